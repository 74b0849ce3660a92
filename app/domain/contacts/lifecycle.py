"""Stage and email-status changes, each recorded with its cause and actor."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.models import Contact, EmailStatus, Stage, StageTransition


def move_stage(session: Session, contact: Contact, to: Stage, *, cause: str, actor: str, now: datetime) -> bool:
    if contact.stage == to:
        return False
    session.add(StageTransition(contact_id=contact.id, attribute="stage", from_value=str(contact.stage),
                                to_value=str(to), cause=cause, actor=actor, created_at=now))
    contact.stage = to
    contact.updated_at = now
    return True


def record_email_status(session: Session, contact: Contact, to: EmailStatus, *, cause: str, actor: str,
                        now: datetime) -> bool:
    """The change and its cause; stopping the drips that follows is campaigns.enrollment.set_email_status."""
    if contact.email_status == to:
        return False
    session.add(StageTransition(contact_id=contact.id, attribute="email_status", from_value=str(contact.email_status),
                                to_value=str(to), cause=cause, actor=actor, created_at=now))
    contact.email_status = to
    contact.updated_at = now
    return True
