"""Read-only queries for the pages; anything that changes state goes through app.domain."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, joinedload

from app.domain.contacts import rules
from app.models import (Campaign, Contact, Enrollment, EnrollmentStatus, Event, EventType, Feedback, Handoff,
                        Message, MessageStatus, Note, OutboxEmail, Persona, Stage, StageTransition, User)

FUNNEL = (Stage.NEW, Stage.NURTURING, Stage.MQL, Stage.HANDED_OFF, Stage.SAL, Stage.OPPORTUNITY, Stage.WON)
OFF_FUNNEL = (Stage.REJECTED, Stage.LOST)


# Dashboard ---------------------------------------------------------------------------------------

def stage_counts(session: Session) -> dict[str, int]:
    counts = dict(session.execute(select(Contact.stage, func.count()).group_by(Contact.stage)).all())
    return {str(stage): counts.get(str(stage), 0) for stage in (*FUNNEL, *OFF_FUNNEL)}


def message_status_counts(session: Session) -> dict[str, int]:
    counts = dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
    return {str(status): counts.get(str(status), 0) for status in MessageStatus}


def recent_handoffs(session: Session, *, rep_id: int | None = None, limit: int = 8) -> list[Handoff]:
    query = select(Handoff).options(joinedload(Handoff.contact), joinedload(Handoff.rep))
    if rep_id is not None:
        query = query.where(Handoff.rep_id == rep_id)
    return list(session.scalars(query.order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(limit)))


def recent_events(session: Session, limit: int = 15) -> list[tuple[Event, Contact]]:
    return list(session.execute(select(Event, Contact).join(Contact, Contact.id == Event.contact_id)
                                .order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit)))


# Contacts ----------------------------------------------------------------------------------------

def contact_search(q: str | None, stage: str | None, persona_id: int | None) -> Select:
    query = select(Contact)
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(Contact.email).like(like), func.lower(Contact.company).like(like),
                                func.lower(Contact.first_name).like(like), func.lower(Contact.last_name).like(like),
                                func.lower(func.coalesce(Contact.first_name, "") + " " +
                                           func.coalesce(Contact.last_name, "")).like(like)))
    if stage:
        query = query.where(Contact.stage == stage)
    if persona_id:
        query = query.where(Contact.persona_id == persona_id)
    return query.order_by(func.coalesce(Contact.last_activity_at, Contact.updated_at).desc(), Contact.id.desc())


def all_personas(session: Session) -> list[Persona]:
    return list(session.scalars(select(Persona).order_by(Persona.priority.desc(), Persona.name)))


def contact_enrollments(session: Session, contact: Contact) -> list[Enrollment]:
    return list(session.scalars(select(Enrollment).options(joinedload(Enrollment.campaign))
                                .where(Enrollment.contact_id == contact.id).order_by(Enrollment.enrolled_at.desc())))


def contact_messages(session: Session, contact: Contact, limit: int = 100) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.contact_id == contact.id)
                                .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)))


def stage_history(session: Session, contact: Contact) -> list[StageTransition]:
    return list(session.scalars(select(StageTransition).where(StageTransition.contact_id == contact.id)
                                .order_by(StageTransition.created_at.desc(), StageTransition.id.desc())))


def contact_notes(session: Session, contact_id: int, since=None) -> list[tuple[Note, User | None]]:
    query = (select(Note, User).outerjoin(User, User.id == Note.user_id).where(Note.contact_id == contact_id)
             .order_by(Note.created_at.desc(), Note.id.desc()))
    if since is not None:
        query = query.where(Note.created_at > since)
    return list(session.execute(query))


def contact_handoffs(session: Session, contact: Contact) -> list[Handoff]:
    return list(session.scalars(select(Handoff).where(Handoff.contact_id == contact.id)
                                .order_by(Handoff.created_at.desc())))


# Personas ----------------------------------------------------------------------------------------

def example_results(persona: Persona) -> list[dict[str, Any]]:
    """Each documented example with what it should do and what today's rules actually do."""
    out = []
    for example in persona.examples or []:
        fields = dict(example.get("contact") or {})
        if "email" in fields and "email_domain" not in fields:
            fields["email_domain"] = str(fields["email"]).rsplit("@", 1)[-1]
        expected = bool(example.get("matches", True))
        try:
            actual = rules.evaluate(persona.rules, fields) if persona.rules else False
        except (KeyError, TypeError, IndexError):
            actual = None
        out.append({"contact": example.get("contact") or {}, "expected": expected, "actual": actual})
    return out


# Campaigns ---------------------------------------------------------------------------------------

def campaigns_with_counts(session: Session) -> list[tuple[Campaign, int]]:
    active = (select(Enrollment.campaign_id, func.count().label("n"))
              .where(Enrollment.status == EnrollmentStatus.ACTIVE).group_by(Enrollment.campaign_id).subquery())
    query = (select(Campaign, func.coalesce(active.c.n, 0)).outerjoin(active, active.c.campaign_id == Campaign.id)
             .options(joinedload(Campaign.persona)).order_by(Campaign.kind, Campaign.name))
    return list(session.execute(query))


def enrollment_counts(session: Session, campaign: Campaign) -> dict[str, int]:
    counts = dict(session.execute(select(Enrollment.status, func.count())
                                  .where(Enrollment.campaign_id == campaign.id).group_by(Enrollment.status)).all())
    return {str(s): counts.get(str(s), 0) for s in EnrollmentStatus}


def step_stats(session: Session, campaign: Campaign) -> dict[int, dict[str, int]]:
    """Per step: sent, opens and clicks, human and machine kept apart."""
    rows = session.execute(
        select(Event.step_id, Event.type, Event.is_machine, func.count())
        .where(Event.campaign_id == campaign.id, Event.step_id.is_not(None),
               Event.type.in_([EventType.EMAIL_SENT, EventType.EMAIL_OPEN, EventType.EMAIL_CLICK]))
        .group_by(Event.step_id, Event.type, Event.is_machine)).all()
    names = {(EventType.EMAIL_SENT, False): "sent", (EventType.EMAIL_SENT, True): "sent",
             (EventType.EMAIL_OPEN, False): "human_opens", (EventType.EMAIL_OPEN, True): "machine_opens",
             (EventType.EMAIL_CLICK, False): "human_clicks", (EventType.EMAIL_CLICK, True): "machine_clicks"}
    stats: dict[int, dict[str, int]] = {}
    for step_id, type_, machine, n in rows:
        entry = stats.setdefault(step_id, dict.fromkeys(set(names.values()), 0))
        entry[names[(type_, bool(machine))]] += n
    return stats


def sample_contacts(session: Session, campaign: Campaign, limit: int = 25) -> list[Contact]:
    query = select(Contact).order_by(Contact.id).limit(limit)
    if campaign.persona_id:
        query = query.where(Contact.persona_id == campaign.persona_id)
    return list(session.scalars(query))


# Outbox and handoffs -----------------------------------------------------------------------------

def outbox_query() -> Select:
    return select(OutboxEmail).order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc())


def handoff_query(*, rep_id: int | None, status: str | None) -> Select:
    query = select(Handoff).options(joinedload(Handoff.contact), joinedload(Handoff.rep))
    if rep_id is not None:
        query = query.where(Handoff.rep_id == rep_id)
    if status:
        query = query.where(Handoff.status == status)
    return query.order_by(Handoff.created_at.desc(), Handoff.id.desc())


def handoff_feedback(session: Session, handoff: Handoff) -> list[Feedback]:
    return list(session.scalars(select(Feedback).options(joinedload(Feedback.user))
                                .where(Feedback.handoff_id == handoff.id).order_by(Feedback.created_at.desc())))
