"""A contact arrives or changes (API, form, import, event, demo): its record is stored, its consent
recorded, its persona matched (entering that persona's drips), and it is scored and qualified, which
may hand it off to sales."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session

from app.models import Contact

from app.domain.campaigns.enrollment import apply_consent
from app.domain.campaigns.personas import assign_persona
from app.domain.contacts.records import parse_contact, store_contact
from app.domain.contacts.webhooks import emit_contact
from app.domain.handoff.hand_off import refresh_contact


# Text a person types: what an anonymous form could put in a subject line if it were merged there.
FREE_TEXT = ("first_name", "last_name", "company", "title", "industry")


def upsert_contact(session: Session, data: Mapping[str, Any], *, now: datetime, actor: str = "api",
                   confirmed: bool = True) -> tuple[Contact, bool]:
    """Create or update by email, then re-match persona, enrol and re-qualify. Returns (contact, created).

    `confirmed=False` (an anonymous form's new contact): the free text it sets is marked unconfirmed
    and kept out of subject lines; a confirmed write of a field (API, import, a confirmed form) clears it."""
    values = parse_contact(data)
    consent = values.pop("consent", None)
    contact, created = store_contact(session, values, now=now)
    _mark_unconfirmed(contact, [name for name in FREE_TEXT if name in values], confirmed=confirmed)
    apply_consent(session, contact, consent or {}, now=now, source=values.get("source") or actor, actor=actor,
                  created=created)
    assign_persona(session, contact, now=now, actor=actor)
    if created:  # owed before scoring, so it precedes any lead.qualified it leads to
        emit_contact(session, "contact.created", contact, now=now, actor=actor)
    refresh_contact(session, contact, now=now)
    return contact, created


def _mark_unconfirmed(contact: Contact, written: list[str], *, confirmed: bool) -> None:
    before = set(contact.unconfirmed_fields or ())
    after = before - set(written) if confirmed else before | set(written)
    if after != before:
        contact.unconfirmed_fields = sorted(after)
