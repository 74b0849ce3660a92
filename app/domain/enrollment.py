"""Contacts entering, moving through and leaving campaigns; the scheduler's planning step."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session, defer, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.models import (Campaign, CampaignKind, Contact, EmailStatus, Enrollment, EnrollmentStatus, Event,
                        EventType, Message, MessageKind, MessageStatus, Stage, Step)
from app.queueing import owe_ids

from .lifecycle import move_stage
from .scheduling import due_at, zone


def may_receive(contact: Contact, campaign: Campaign) -> bool:
    """Nurture stops at handoff; an autoresponder (the thing they asked for) still goes out."""
    if contact.email_status != EmailStatus.ACTIVE or not contact.email_consent:
        return False
    return campaign.kind == CampaignKind.AUTORESPONDER or contact.can_receive_nurture or (
        campaign.kind == CampaignKind.RECYCLE and contact.stage in (Stage.REJECTED, Stage.LOST, Stage.NURTURING))


def active_steps(campaign: Campaign) -> list[Step]:
    return [s for s in campaign.steps if s.active and s.current_version_id is not None]


def enroll(session: Session, contact: Contact, campaign: Campaign, *, now: datetime, source: str,
           actor: str = "system") -> Enrollment | None:
    """Enter a campaign unless already in it (drips run once per contact; autoresponders once per trigger)."""
    if not may_receive(contact, campaign) or not active_steps(campaign):
        return None
    previous = session.scalars(select(Enrollment).where(
        Enrollment.contact_id == contact.id, Enrollment.campaign_id == campaign.id)
        .order_by(Enrollment.cycle.desc())).first()
    if previous is not None and (previous.status == EnrollmentStatus.ACTIVE or campaign.kind == CampaignKind.DRIP):
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

    from . import rules
    from .contacts import rule_fields

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
    few set-based statements whatever the number of due steps: one multi-row insert of the
    messages (returning their ids) and one update of the enrollments they advance.
    Returns how many messages were planned.
    """
    query = (select(Enrollment).where(Enrollment.status == EnrollmentStatus.ACTIVE, Enrollment.next_due_at <= now)
             .order_by(Enrollment.next_due_at).limit(limit)
             .options(selectinload(Enrollment.contact).options(
                 defer(Contact.score_reasons), defer(Contact.fit_reasons), defer(Contact.preferences),
                 selectinload(Contact.persona))))  # scoring's outputs are large and planning never reads them
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Enrollment)
    due = session.scalars(query).all()
    campaign_ids = {e.campaign_id for e in due}
    if campaign_ids:  # each campaign with its steps and current versions, once per tick
        session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)).options(
            selectinload(Campaign.steps).selectinload(Step.current_version))).all()
    planned = [plan for plan in (_plan_one(session, enrollment, now) for enrollment in due) if plan is not None]
    session.flush()  # the rarer changes made through the ORM (stopped or finished enrollments)
    if not planned:
        return 0
    messages, advances = zip(*planned)
    _advance_enrollments(session, list(advances))
    written = _insert_messages(session, list(messages))
    # Marked queued in the insert itself; enqueue_sends clears the mark if Redis turns them away.
    owe_ids(session, [message_id for message_id, status in written if status == MessageStatus.PENDING], queued=True)
    return len(written)


def _plan_one(session: Session, enrollment: Enrollment, now: datetime) -> tuple[dict, dict] | None:
    """The message row this due enrollment owes and the enrollment's next state, or None."""
    contact, campaign = enrollment.contact, enrollment.campaign
    steps = active_steps(campaign)
    if not may_receive(contact, campaign):
        stop_enrollments(session, contact, reason="contact can no longer receive this campaign", now=now)
        return None
    if enrollment.next_position >= len(steps):
        _finish(enrollment, now)
        return None
    step = steps[enrollment.next_position]
    version = step.current_version
    met = condition_met(session, enrollment, version.conditions)
    message = {
        "public_id": secrets.token_hex(16), "contact_id": contact.id, "enrollment_id": enrollment.id,
        "campaign_id": campaign.id, "step_id": step.id, "step_version_id": version.id, "to_email": contact.email,
        "kind": MessageKind.AUTORESPONDER if campaign.kind == CampaignKind.AUTORESPONDER else MessageKind.NURTURE,
        "status": MessageStatus.PENDING if met else MessageStatus.SKIPPED, "created_at": now, "subject": "",
        "attempts": 0, "error": None if met else f"condition not met: {version.conditions.get('if')}",
        "queued_at": now if met else None,
    }
    position = enrollment.next_position + 1
    otherwise = (version.conditions or {}).get("otherwise")
    if not met and otherwise:  # branch: jump ahead to the named step instead of the next one
        keys = [s.key for s in steps]
        if otherwise in keys[position:]:
            position = keys.index(otherwise)
    advance = {"enrollment_id": enrollment.id, "next_position": position, "status": EnrollmentStatus.ACTIVE,
               "next_due_at": None, "ended_at": None}
    if position >= len(steps):
        advance.update(status=EnrollmentStatus.COMPLETED, ended_at=now)
    else:
        following = steps[position].current_version
        advance["next_due_at"] = due_at(now, following.delay_seconds, campaign.send_window,
                                        zone(contact.timezone, campaign.timezone))
    return message, advance


MESSAGE_COLUMNS = {"public_id": "varchar", "kind": "varchar", "contact_id": "integer", "enrollment_id": "integer",
                   "campaign_id": "integer", "step_id": "integer", "step_version_id": "integer", "to_email": "varchar",
                   "status": "varchar", "created_at": "timestamptz", "subject": "varchar", "attempts": "integer",
                   "error": "text", "queued_at": "timestamptz"}
# One array per column: a single short statement whatever the number of rows (a multi-row VALUES
# list costs more to build and parse on the client than the insert costs the server).
INSERT_MESSAGES_PG = text(
    f"INSERT INTO messages ({', '.join(MESSAGE_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in MESSAGE_COLUMNS.items())
    + ") RETURNING id, status")


def _insert_messages(session: Session, rows: list[dict]) -> list[tuple[int, str]]:
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(INSERT_MESSAGES_PG, {
            name: [str(row[name]) if kind == "varchar" and row[name] is not None else row[name] for row in rows]
            for name, kind in MESSAGE_COLUMNS.items()}).all()
    return session.execute(insert(Message).returning(Message.id, Message.status, sort_by_parameter_order=True),
                           rows).all()


ADVANCE_ENROLLMENTS_PG = text("""
UPDATE enrollments AS e
SET next_position = v.next_position, status = v.status, next_due_at = v.next_due_at, ended_at = v.ended_at
FROM unnest(CAST(:ids AS integer[]), CAST(:positions AS integer[]), CAST(:statuses AS varchar[]),
            CAST(:due AS timestamptz[]), CAST(:ended AS timestamptz[]))
     AS v(id, next_position, status, next_due_at, ended_at)
WHERE e.id = v.id
""")


def _advance_enrollments(session: Session, advances: list[dict]) -> None:
    """One statement for the whole tick on PostgreSQL (an executemany elsewhere). The enrollments
    loaded in this session take the written values, so nothing reads their old position afterwards."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(ADVANCE_ENROLLMENTS_PG, {
            "ids": [a["enrollment_id"] for a in advances], "positions": [a["next_position"] for a in advances],
            "statuses": [str(a["status"]) for a in advances], "due": [a["next_due_at"] for a in advances],
            "ended": [a["ended_at"] for a in advances]})
    else:
        session.connection().execute(
            update(Enrollment.__table__).where(Enrollment.__table__.c.id == bindparam("enrollment_id"))
            .values(next_position=bindparam("next_position"), status=bindparam("status"),
                    next_due_at=bindparam("next_due_at"), ended_at=bindparam("ended_at")), advances)
    identity = session.identity_map
    for advance in advances:
        enrollment = identity.get(identity_key(Enrollment, advance["enrollment_id"]))
        if enrollment is not None:
            for name in ("next_position", "status", "next_due_at", "ended_at"):
                set_committed_value(enrollment, name, advance[name])


def _finish(enrollment: Enrollment, now: datetime) -> None:
    enrollment.status = EnrollmentStatus.COMPLETED
    enrollment.ended_at = now
    enrollment.next_due_at = None
