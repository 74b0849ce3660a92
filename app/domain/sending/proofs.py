"""Test sends ("proofs") of a step to a marketer's own address, through the real pipeline."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from app.models import Contact, Message, MessageKind, MessageStatus, StepVersion
from app.infra.queue import owe

from app.domain.contacts.records import normalise_email


def send_proof(session: Session, version: StepVersion, to_email: str, *, now: datetime,
               as_contact: Contact | None = None) -> Message:
    """Queue the step, merged for `as_contact` (or a sample), to `to_email`; untracked and not counted."""
    step = version.step
    message = Message(public_id=secrets.token_hex(16), kind=MessageKind.TEST, to_email=normalise_email(to_email),
                      contact_id=as_contact.id if as_contact else None, campaign_id=step.campaign_id,
                      step_id=None, step_version_id=version.id, status=MessageStatus.PENDING, created_at=now)
    session.add(message)
    owe(session, message)
    session.flush()
    return message
