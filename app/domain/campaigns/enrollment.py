"""Contacts entering, moving through and leaving campaigns; the scheduler's planning step."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.models import (Campaign, CampaignKind, Contact, EmailStatus, Enrollment, EnrollmentStatus, Event,
                        EventType, Message, MessageKind, MessageStatus, Stage, Step)
from app.infra import planning
from app.infra.queue import owe_ids

from app.domain.contacts.consent import record_consent
from app.domain.contacts.lifecycle import move_stage, record_email_status
from app.domain.campaigns.scheduling import due_at, zone
from app.domain.contacts import rules
from app.domain.contacts.records import rule_fields


def may_receive(contact: Contact, campaign: Campaign) -> bool:
    """Nurture stops at handoff; an autoresponder (the thing they asked for) still goes out."""
    if contact.email_status != EmailStatus.ACTIVE or not contact.email_consent:
        return False
    return campaign.kind == CampaignKind.AUTORESPONDER or contact.can_receive_nurture or (
        campaign.kind == CampaignKind.RECYCLE and contact.stage in (Stage.REJECTED, Stage.LOST, Stage.NURTURING))


# Anyone can type an address into a form: an autoresponder reaches it at most this often.
AUTORESPONDER_EVERY = timedelta(days=1)


def active_steps(campaign: Campaign) -> list[Step]:
    return [s for s in campaign.steps if s.active and s.current_version_id is not None]


def enroll(session: Session, contact: Contact, campaign: Campaign, *, now: datetime, source: str,
           actor: str = "system") -> Enrollment | None:
    """Enter a campaign unless already in it (drips run once per contact; autoresponders once per
    trigger, and at most once a day per address however often the trigger comes)."""
    if not may_receive(contact, campaign) or not active_steps(campaign):
        return None
    previous = session.scalars(select(Enrollment).where(
        Enrollment.contact_id == contact.id, Enrollment.campaign_id == campaign.id)
        .order_by(Enrollment.cycle.desc())).first()
    if previous is not None and (previous.status == EnrollmentStatus.ACTIVE or campaign.kind == CampaignKind.DRIP):
        return None
    if (previous is not None and campaign.kind == CampaignKind.AUTORESPONDER
            and previous.enrolled_at > now - AUTORESPONDER_EVERY):
        return None
    first = active_steps(campaign)[0].current_version
    enrollment = Enrollment(
        contact_id=contact.id, campaign_id=campaign.id, cycle=(previous.cycle + 1) if previous else 1,
        status=EnrollmentStatus.ACTIVE, next_position=0, source=source, enrolled_at=now,
        next_due_at=due_at(now, first.delay_seconds, campaign.send_window, zone(contact.timezone, campaign.timezone)),
    )
    session.add(enrollment)
    if contact.stage == Stage.NEW and campaign.kind != CampaignKind.AUTORESPONDER:
        move_stage(session, contact, Stage.NURTURING, cause=f"enrolled in {campaign.name}", actor=actor, now=now)
    session.flush()
    return enrollment


def set_email_status(session: Session, contact: Contact, to: EmailStatus, *, cause: str, actor: str,
                     now: datetime) -> bool:
    """Unsubscribed, bounced and complained contacts never receive nurture email again: the change is
    recorded and every enrollment stops."""
    if not record_email_status(session, contact, to, cause=cause, actor=actor, now=now):
        return False
    if to != EmailStatus.ACTIVE:
        stop_enrollments(session, contact, reason=str(to), now=now)
    return True


def apply_consent(session: Session, contact: Contact, given, *, now: datetime, source: str, actor: str,
                  created: bool = False) -> None:
    """Record the given permissions (consent.record_consent); withdrawing email stops the drips."""
    if record_consent(session, contact, given, now=now, source=source, actor=actor, created=created):
        stop_enrollments(session, contact, reason="email consent withdrawn", now=now)


def stop_enrollments(session: Session, contact: Contact, *, reason: str, now: datetime,
                     kinds: tuple[CampaignKind, ...] = (CampaignKind.DRIP, CampaignKind.RECYCLE, CampaignKind.AUTORESPONDER)) -> int:
    stopped = 0
    for enrollment in session.scalars(select(Enrollment).join(Campaign).where(
            Enrollment.contact_id == contact.id, Enrollment.status == EnrollmentStatus.ACTIVE,
            Campaign.kind.in_([str(k) for k in kinds]))):
        enrollment.status = EnrollmentStatus.STOPPED
        enrollment.exit_reason = reason
        enrollment.ended_at = now
        enrollment.next_due_at = None
        stopped += 1
    return stopped


def exit_on_goal(session: Session, contact: Contact, event_type: str, *, now: datetime) -> int:
    exited = 0
    for enrollment in session.scalars(select(Enrollment).where(
            Enrollment.contact_id == contact.id, Enrollment.status == EnrollmentStatus.ACTIVE)):
        if event_type in (enrollment.campaign.exit_goals or []):
            enrollment.status = EnrollmentStatus.EXITED
            enrollment.exit_reason = f"goal reached: {event_type}"
            enrollment.ended_at = now
            enrollment.next_due_at = None
            exited += 1
    return exited


def condition_met(session: Session, enrollment: Enrollment, condition: dict) -> bool:
    """A step's condition, checked when the step comes due. Engagement counts only if human.

    `if` is opened_previous / clicked_previous / not_opened_previous (the previous email of this
    enrollment), or a mapping: {clicked: glob} a link in any of its emails, {visited: glob} or
    {not_visited: glob} a page, or a contact field condition {field, op, value}."""
    kind = (condition or {}).get("if")
    if not kind:
        return True
    if isinstance(kind, dict):
        return _mapping_condition_met(session, enrollment, kind)
    previous = session.scalars(select(Message).where(Message.enrollment_id == enrollment.id,
                                                     Message.status == MessageStatus.SENT)
                               .order_by(Message.id.desc())).first()
    if previous is None:
        return kind == "not_opened_previous"

    def human(event_type: str) -> bool:
        return bool(session.scalar(select(func.count()).select_from(Event).where(
            Event.message_id == previous.id, Event.type == event_type, Event.is_machine.is_(False))))

    if kind == "opened_previous":
        return human(EventType.EMAIL_OPEN) or human(EventType.EMAIL_CLICK)
    if kind == "clicked_previous":
        return human(EventType.EMAIL_CLICK)
    if kind == "not_opened_previous":
        return not (human(EventType.EMAIL_OPEN) or human(EventType.EMAIL_CLICK))
    return True


def _mapping_condition_met(session: Session, enrollment: Enrollment, condition: dict) -> bool:
    from fnmatch import fnmatch

    def urls(event_type: str, **where) -> list[str]:
        query = select(Event.url).where(Event.contact_id == enrollment.contact_id, Event.type == event_type,
                                        Event.is_machine.is_(False), Event.url.is_not(None))
        for column, value in where.items():
            query = query.where(getattr(Event, column) == value)
        return [u.lower() for u in session.scalars(query)]

    if "clicked" in condition:
        return any(fnmatch(u, condition["clicked"].lower())
                   for u in urls(EventType.EMAIL_CLICK, campaign_id=enrollment.campaign_id))
    if "visited" in condition:
        return any(fnmatch(u, condition["visited"].lower()) for u in urls(EventType.PAGE_VIEW))
    if "not_visited" in condition:
        return not any(fnmatch(u, condition["not_visited"].lower()) for u in urls(EventType.PAGE_VIEW))
    return rules.evaluate(condition, rule_fields(enrollment.contact))


def plan_due_messages(session: Session, *, now: datetime, limit: int = 1000) -> int:
    """Turn due enrollments into pending message rows (enqueued after commit) and advance them.

    On PostgreSQL the due rows are locked with SKIP LOCKED, so several schedulers never plan
    the same step twice; the unique (enrollment, step) constraint backs that up. A tick costs a
    few set-based statements whatever the number of due steps: one read of the due enrollments
    with what planning needs of their contacts, one multi-row insert of the messages (returning
    their ids) and one update of the enrollments they advance.
    Returns how many messages were planned.
    """
    # Columns rather than objects: hydrating thousands of enrollments and contacts cost more than
    # everything else in a tick. The rare cases (a contact who can no longer receive, a step with a
    # condition, an enrollment with no step left) load what they need through the ORM.
    due = planning.due_enrollments(session, now=now, limit=limit)
    if not due:
        return 0
    campaigns = {campaign.id: campaign for campaign in session.scalars(
        select(Campaign).where(Campaign.id.in_({row.campaign_id for row in due}))
        .options(selectinload(Campaign.steps).selectinload(Step.current_version)))}
    steps_of = {campaign_id: active_steps(campaign) for campaign_id, campaign in campaigns.items()}
    receives: dict[tuple, bool] = {}
    outcome_numbers: dict[tuple, int] = {}
    outcomes: list[_Outcome] = []
    planned: list[_Planned] = []
    for enrollment_id, contact_id, campaign_id, position, email, timezone, email_status, consent, stage in due:
        campaign, steps = campaigns[campaign_id], steps_of[campaign_id]
        audience = (email_status, consent, stage, campaign_id)
        if audience not in receives:
            receives[audience] = may_receive(_Recipient(email_status, consent, stage), campaign)
        if not receives[audience]:
            stop_enrollments(session, session.get(Contact, contact_id),
                             reason="contact can no longer receive this campaign", now=now)
            continue
        if position >= len(steps):
            _finish(session.get(Enrollment, enrollment_id), now)
            continue
        conditions = steps[position].current_version.conditions
        met = not (conditions or {}).get("if") or condition_met(session, session.get(Enrollment, enrollment_id),
                                                                 conditions)
        # Everything but the row's own ids follows from these, so it is worked out once per tick.
        place = (campaign_id, position, met, timezone)
        number = outcome_numbers.get(place)
        if number is None:
            outcomes.append(_outcome(campaign, steps, position, met, timezone, now))
            number = outcome_numbers[place] = len(outcomes)
        planned.append(_Planned(enrollment_id, contact_id, email, number))
    session.flush()  # the rarer changes made through the ORM (stopped or finished enrollments)
    if not planned:
        return 0
    _advance_enrollments(session, planned, outcomes)
    written = _insert_messages(session, planned, outcomes, now)
    # Marked queued in the insert itself; enqueue_sends clears the mark if Redis turns them away.
    owe_ids(session, [message_id for message_id, status in written if status == MessageStatus.PENDING], queued=True)
    return len(written)


class _Planned(NamedTuple):
    """A due enrollment that owes a message; `outcome` numbers its _Outcome from 1."""
    enrollment_id: int
    contact_id: int
    email: str
    outcome: int


class _Recipient(NamedTuple):
    """The fields of a contact that decide whether it may receive, for may_receive without loading the contact."""
    email_status: str
    email_consent: bool
    stage: str

    can_receive_nurture = Contact.can_receive_nurture  # one rule, whatever holds the contact


class _Outcome(NamedTuple):
    """What a due step comes to: the message row's shared columns and the enrollment's next state."""
    campaign_id: int
    step_id: int
    step_version_id: int
    kind: str
    message_status: str
    error: str | None
    queued_at: datetime | None
    next_position: int
    status: str
    next_due_at: datetime | None
    ended_at: datetime | None


def _outcome(campaign: Campaign, steps: list[Step], position: int, met: bool, contact_timezone: str | None,
             now: datetime) -> _Outcome:
    step = steps[position]
    version = step.current_version
    following = position + 1
    otherwise = (version.conditions or {}).get("otherwise")
    if not met and otherwise:  # branch: jump ahead to the named step instead of the next one
        keys = [s.key for s in steps]
        if otherwise in keys[following:]:
            following = keys.index(otherwise)
    if following >= len(steps):
        status, next_due_at, ended_at = EnrollmentStatus.COMPLETED, None, now
    else:
        status, ended_at = EnrollmentStatus.ACTIVE, None
        next_due_at = due_at(now, steps[following].current_version.delay_seconds, campaign.send_window,
                             zone(contact_timezone, campaign.timezone))
    return _Outcome(
        campaign_id=campaign.id, step_id=step.id, step_version_id=version.id,
        kind=str(MessageKind.AUTORESPONDER if campaign.kind == CampaignKind.AUTORESPONDER else MessageKind.NURTURE),
        message_status=str(MessageStatus.PENDING if met else MessageStatus.SKIPPED),
        error=None if met else f"condition not met: {version.conditions.get('if')}", queued_at=now if met else None,
        next_position=following, status=str(status), next_due_at=next_due_at, ended_at=ended_at)


def _insert_messages(session: Session, planned: list[_Planned], outcomes: list[_Outcome],
                     now: datetime) -> list[tuple[int, str]]:
    drawn = secrets.token_bytes(16 * len(planned)).hex()  # token_hex(16) each, drawn at once
    public_ids = [drawn[i:i + 32] for i in range(0, len(drawn), 32)]
    return planning.insert_messages(session, public_ids, planned, outcomes, now)


def _advance_enrollments(session: Session, planned: list[_Planned], outcomes: list[_Outcome]) -> None:
    """One statement for the whole tick on PostgreSQL (an executemany elsewhere: app.infra.planning).
    The enrollments loaded in this session take the written values, so nothing reads their old
    position afterwards."""
    values = [_advance_values(outcome) for outcome in outcomes]
    planning.advance_enrollments(session, planned, values)
    advanced = {due.enrollment_id: values[due.outcome - 1] for due in planned}
    # The session usually holds few enrollments (those a rare case loaded, or a caller's), so walk
    # its identity map rather than look up every advanced id in it.
    for key, enrollment in list(session.identity_map.items()):
        written = advanced.get(key[1][0]) if key[0] is Enrollment else None
        if written is not None:
            for name, value in written.items():
                set_committed_value(enrollment, name, value)


def _advance_values(outcome: _Outcome) -> dict:
    return {"next_position": outcome.next_position, "status": outcome.status, "next_due_at": outcome.next_due_at,
            "ended_at": outcome.ended_at}


def _finish(enrollment: Enrollment, now: datetime) -> None:
    enrollment.status = EnrollmentStatus.COMPLETED
    enrollment.ended_at = now
    enrollment.next_due_at = None
