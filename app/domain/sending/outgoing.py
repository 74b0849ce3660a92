"""What a send job reads of the messages it claimed: plain rows, loaded in one query per job.

A nurture or autoresponder message needs its row, its contact (the merge fields and what
decides whether the contact may still receive it) and its persona's slug. Building ORM objects
for these would cost more per message than rendering it, so they are read as Core rows into
small slotted objects that rendering reads exactly as it reads the ORM classes. Campaigns and
step versions are few per job and come from the ORM; notifications and test sends, which render
from relationships, are loaded as ORM messages by the lane that sends them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, defer, selectinload

from app.models import Campaign, Contact, Message, MessageKind, Persona, StepVersion
from app.infra import id_lists

RECIPIENT_FIELDS = ("email", "email_domain", "first_name", "last_name", "company", "title", "industry",
                    "company_size", "budget", "timeline_months", "country", "timezone", "source", "fields",
                    "segment", "stage", "email_status", "email_consent", "tracking_consent", "unconfirmed_fields")


class PersonaRef(NamedTuple):
    slug: str


@dataclass(slots=True)
class Recipient:
    """A contact as sending reads it: merge fields, persona, consent and standing."""

    id: int
    email: str
    email_domain: str
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    industry: str | None
    company_size: int | None
    budget: int | None
    timeline_months: int | None
    country: str | None
    timezone: str | None
    source: str | None
    fields: dict
    segment: str | None
    stage: str
    email_status: str
    email_consent: bool
    tracking_consent: bool
    unconfirmed_fields: list | None  # kept out of subject lines (messages.composing.with_safe_subject)
    persona: PersonaRef | None

    can_receive_nurture = Contact.can_receive_nurture  # one rule, whatever holds the contact


@dataclass(slots=True)
class Outgoing:
    """A claimed nurture or autoresponder message with what it takes to render and send it."""

    id: int
    public_id: str
    kind: str
    to_email: str
    contact_id: int | None
    campaign_id: int | None
    step_id: int | None
    attempts: int
    contact: Recipient | None
    campaign: Campaign | None
    step_version: StepVersion | None
    handoff: Any = None


ROW_KINDS = (MessageKind.NURTURE, MessageKind.AUTORESPONDER)


def load_outgoing(session: Session, ids: list[int]) -> dict[int, Any]:
    """id → Outgoing (or OwnSession for notifications and test sends), for the given ids."""
    m, c, p = Message.__table__, Contact.__table__, Persona.__table__
    # Positional rows: reading 20 fields by name costs more per message than the query.
    rows = session.execute(
        select(m.c.id, m.c.public_id, m.c.kind, m.c.to_email, m.c.contact_id, m.c.campaign_id, m.c.step_id,
               m.c.attempts, m.c.step_version_id, p.c.slug, c.c.id, *(c.c[name] for name in RECIPIENT_FIELDS))
        .select_from(m.outerjoin(c, c.c.id == m.c.contact_id).outerjoin(p, p.c.id == c.c.persona_id))
        .where(id_among(m.c.id, ids, session))).all()
    campaigns = _by_id(session, Campaign, {r[5] for r in rows})
    versions = _by_id(session, StepVersion, {r[8] for r in rows})
    loaded: dict[int, Any] = {}
    special = []
    for r in rows:
        if r[2] not in ROW_KINDS:
            special.append(r[0])
            continue
        slug, recipient_id = r[9], r[10]
        recipient = None if recipient_id is None else Recipient(
            *r[10:], persona=PersonaRef(slug) if slug is not None else None)
        loaded[r[0]] = Outgoing(*r[:8], recipient, campaigns.get(r[5]), versions.get(r[8]))
    for message_id in special:
        loaded[message_id] = OwnSession(message_id)
    return loaded


class OwnSession(NamedTuple):
    """A notification or test send: loaded by the lane in its own session, since rendering it
    follows relationships (the handoff, its contact and report) that need a live session."""

    id: int


def load_message(session: Session, message_id: int) -> Message | None:
    return session.scalars(select(Message).where(Message.id == message_id).options(
        selectinload(Message.contact).options(defer(Contact.score_reasons), defer(Contact.fit_reasons),
                                              selectinload(Contact.persona)),
        selectinload(Message.step_version), selectinload(Message.campaign),
        selectinload(Message.handoff))).first()


def _by_id(session: Session, model, ids: set) -> dict:
    ids.discard(None)
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(id_among(model.id, sorted(ids), session)))}


def id_among(column, ids: list[int], session: Session):
    """`column` is one of `ids`, passed as the database takes a long list best (app.infra.id_lists)."""
    return id_lists.id_among(session, column, ids)
