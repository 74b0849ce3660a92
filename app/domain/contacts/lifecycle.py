"""Stage and email-status changes, each recorded with its cause and actor."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.models import Contact, EmailStatus, Stage, StageTransition

from app.domain.contacts.webhooks import emit_contact


def move_stage(session: Session, contact: Contact, to: Stage, *, cause: str, actor: str, now: datetime) -> bool:
    return _change(session, contact, "stage", to, cause=cause, actor=actor, now=now)


def record_email_status(session: Session, contact: Contact, to: EmailStatus, *, cause: str, actor: str,
                        now: datetime) -> bool:
    """The change and its cause; stopping the drips that follows is campaigns.enrollment.set_email_status.
    Every unsubscribe (link, mailto, event, API) passes here, so contact.unsubscribed is owed here."""
    changed = _change(session, contact, "email_status", to, cause=cause, actor=actor, now=now)
    if changed and to == EmailStatus.UNSUBSCRIBED:
        emit_contact(session, "contact.unsubscribed", contact, now=now, cause=cause)
    return changed


def _change(session: Session, contact: Contact, attribute: str, to: str, *, cause: str, actor: str,
            now: datetime) -> bool:
    """Set the attribute and record the transition; False (and nothing recorded) if it already holds."""
    before = getattr(contact, attribute)
    if before == to:
        return False
    session.add(StageTransition(contact_id=contact.id, attribute=attribute, from_value=str(before),
                                to_value=str(to), cause=cause, actor=actor, created_at=now))
    setattr(contact, attribute, to)
    contact.updated_at = now
    return True
