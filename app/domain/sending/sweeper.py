"""The scheduler's sweep over sending: lanes whose worker died are settled from their journal (a
message the relay accepted is recorded as sent, never sent again), and pending messages nobody holds
or queued recently are queued again, so a flushed Redis or a killed worker loses no email."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.infra.queue import enqueue_sends
from app.models import Message, MessageStatus

from app.domain.messages.rendering import TemplateError
from app.domain.sending.contents import message_content
from app.domain.sending.journal import settle_abandoned_lanes
from app.domain.sending.outgoing import load_message


def recovered_subject(services, session: Session, message_id: int) -> str:
    """The subject a message the journal shows as accepted went out with, rendered again from its
    step version for its contact (as they are now); empty if it can no longer be rendered."""
    message = load_message(session, message_id)
    if message is None:
        return ""
    try:
        return message_content(services, message).subject
    except (TemplateError, ValueError, AttributeError):  # e.g. a contact erased meanwhile
        return ""



def sweep(services, *, requeue_after: timedelta) -> dict[str, int]:
    """Abandoned lanes are settled from their journal (their claims end with them); then pending
    messages nobody holds or queued recently are queued again."""
    now = services.now()
    with services.sessions() as session:
        settled = settle_abandoned_lanes(session, now=now, mail_from=services.config.mail_from,
                                         subject_of=lambda message_id: recovered_subject(services, session, message_id))
        # Rows left 'sending' by the per-message bookkeeping of earlier versions.
        unknown = session.execute(
            update(Message).where(Message.status == MessageStatus.SENDING, Message.lease_until < now)
            .values(status=MessageStatus.UNKNOWN, lease_until=None,
                    error="the worker stopped while handing this message over; not resent automatically")
        ).rowcount or 0
        stale = session.scalars(select(Message.id).where(
            Message.status == MessageStatus.PENDING, Message.claim.is_(None),
            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            or_(Message.queued_at.is_(None), Message.queued_at < now - requeue_after),
        ).order_by(Message.id).limit(50_000)).all()
        session.commit()
    requeued = enqueue_sends(services, list(stale))
    return {"unknown": unknown + settled["unknown"], "released": settled["released"],
            "recovered_sent": settled["sent"], "requeued": requeued}
