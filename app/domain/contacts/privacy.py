"""Everything held on a contact, as JSON; and erasure that leaves only a hashed suppression entry.

Erasure deletes the contact with its events, enrollments, notes, history, handoffs and the forms
held for its confirmation (their rows cascade with the contact's), scrubs the
address and names from the messages, notices, outbox copies and CRM webhooks that mention it, and
keeps a SHA-256 of the normalised address so that no later import, form or API upsert adds it back.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import delete, inspect, or_, select, update
from sqlalchemy.orm import Session

from app.models import (Contact, Enrollment, Event, Feedback, FormConfirmation, Handoff, Message, Note, OutboxEmail,
                        StageTransition, WebhookDelivery)
from app.models.event import Suppression

from app.domain.errors import ValidationError

SALT = b"nurture-suppression-v1:"
ERASED = "erased"


def email_hash(email: str) -> str:
    return hashlib.sha256(SALT + email.strip().lower().encode()).hexdigest()


def is_suppressed(session: Session, email: str) -> bool:
    return session.scalar(select(Suppression.id).where(Suppression.email_hash == email_hash(email))) is not None


def refuse_if_suppressed(session: Session, email: str) -> None:
    if is_suppressed(session, email):
        raise ValidationError("email", "this address was erased at the person's request and cannot be added again")


def _row(obj) -> dict[str, Any]:
    out = {}
    for column in inspect(obj).mapper.column_attrs:
        value = getattr(obj, column.key)
        out[column.key] = value.isoformat() if isinstance(value, datetime) else (
            str(value) if hasattr(value, "value") else value)
    return out


def export_contact(session: Session, contact: Contact) -> dict[str, Any]:
    """Every row that names this contact, column by column (for a data subject access request)."""
    def rows(model, *where, order=None):
        query = select(model).where(*where)
        return [_row(r) for r in session.scalars(query.order_by(order if order is not None else model.id))]

    handoff_ids = [h.id for h in session.scalars(select(Handoff).where(Handoff.contact_id == contact.id))]
    return {
        "contact": _row(contact),
        "events": rows(Event, Event.contact_id == contact.id, order=Event.occurred_at),
        "messages": [{k: v for k, v in r.items() if k not in ("smtp_response",)}
                     for r in rows(Message, Message.contact_id == contact.id)],
        "enrollments": rows(Enrollment, Enrollment.contact_id == contact.id),
        "history": rows(StageTransition, StageTransition.contact_id == contact.id),
        "notes": rows(Note, Note.contact_id == contact.id),
        "handoffs": rows(Handoff, Handoff.id.in_(handoff_ids)),
        "feedback": rows(Feedback, Feedback.handoff_id.in_(handoff_ids)),
        "form_confirmations": rows(FormConfirmation, FormConfirmation.contact_id == contact.id),
    }


def erase_contact(session: Session, contact: Contact, *, now: datetime, reason: str = ERASED) -> None:
    """Delete the contact and what names it; keep only the hash that blocks re-adding the address."""
    email = contact.email
    handoff_ids = list(session.scalars(select(Handoff.id).where(Handoff.contact_id == contact.id)))
    notices = list(session.scalars(select(Message.id).where(Message.handoff_id.in_(handoff_ids)))) if handoff_ids else []
    own = list(session.scalars(select(Message.id).where(Message.contact_id == contact.id)))
    session.execute(delete(OutboxEmail).where(or_(OutboxEmail.to_email == email, OutboxEmail.message_id.in_(own + notices))))
    session.execute(update(Message).where(Message.id.in_(own)).values(to_email=ERASED, subject="", smtp_response=None,
                                                                        error=None))
    if notices:
        session.execute(update(Message).where(Message.id.in_(notices)).values(subject="(erased lead)"))
    named = WebhookDelivery.contact_id == contact.id
    if handoff_ids:
        named = or_(named, WebhookDelivery.handoff_id.in_(handoff_ids))
    session.execute(update(WebhookDelivery).where(named).values(payload={"erased": True}, history=[]))
    session.execute(update(WebhookDelivery).where(named, WebhookDelivery.status != "delivered")  # never sent now
                    .values(status="failed", next_attempt_at=None, last_error="the contact was erased"))
    session.delete(contact)
    session.flush()
    if not is_suppressed(session, email):
        session.add(Suppression(email_hash=email_hash(email), reason=reason, created_at=now))
