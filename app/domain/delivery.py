"""Sending owed messages exactly once: claim under a lease, re-check suppression, send, record.

A message is claimed by a conditional UPDATE (pending → sending), so two workers never send it
both. It is marked sent only after the server's 250; a worker that dies in between leaves it
'sending', and the sweeper turns an expired lease into 'unknown' rather than sending it again.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.mail import SendError
from app.models import Contact, Event, EventType, Message, MessageKind, MessageStatus

from .composing import build_mime, render_message
from .enrollment import may_receive
from .rendering import TemplateError

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** (attempt - 1), 6 * 3600))


def claim(session: Session, message_ids: list[int], *, now: datetime, lease_seconds: int) -> list[int]:
    rows = session.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.status == MessageStatus.PENDING,
               or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now))
        .values(status=MessageStatus.SENDING, lease_until=now + timedelta(seconds=lease_seconds),
                attempts=Message.attempts + 1)
        .returning(Message.id)
    ).scalars().all()
    session.commit()
    return sorted(rows)


def still_wanted(message: Message) -> bool:
    """Suppression is checked again at the last moment: unsubscribes and handoffs win over the queue."""
    if message.kind in (MessageKind.NOTIFICATION, MessageKind.TEST):
        return True
    contact: Contact | None = message.contact
    return contact is not None and message.campaign is not None and may_receive(contact, message.campaign)


def send_batch(services, message_ids: list[int]) -> dict[str, int]:
    """Send what can be claimed of these messages over one connection. Returns counts by outcome."""
    counts = {"sent": 0, "suppressed": 0, "retry": 0, "failed": 0, "skipped": 0}
    with services.sessions() as session:
        claimed = claim(session, message_ids, now=services.now(), lease_seconds=services.config.lease_seconds)
        counts["skipped"] = len(message_ids) - len(claimed)
        if not claimed:
            return counts
        connection_error: SendError | None = None
        try:
            with services.sender().connect() as connection:
                for message_id in claimed:
                    outcome = _send_one(services, session, connection, message_id)
                    counts[outcome] += 1
        except SendError as exc:  # could not connect, or the connection dropped
            connection_error = exc
        finally:
            counts["retry"] += _release_unsent(session, claimed, services.now(), connection_error)
    if connection_error is not None:
        # Let the job fail so RQ shows it; the rows are already back to pending with a backoff.
        raise connection_error
    return counts


def _send_one(services, session: Session, connection, message_id: int) -> str:
    message = session.get(Message, message_id)
    now = services.now()
    if not still_wanted(message):
        message.status = MessageStatus.SUPPRESSED
        message.lease_until = None
        message.error = "contact can no longer receive this email"
        session.commit()
        return "suppressed"
    try:
        rendered = render_message(services, message)
        header_id, raw = build_mime(services, message, rendered, now)
    except (TemplateError, ValueError) as exc:  # refused at sync time normally; never retried blindly
        message.status = MessageStatus.FAILED
        message.lease_until = None
        message.error = f"cannot render: {exc}"[:1000]
        session.commit()
        return "failed"
    message.subject = rendered.subject[:500]
    try:
        response = connection.send(_envelope_from(services), message.to_email, raw,
                                   message_id=message.id, subject=rendered.subject)
    except SendError as exc:
        if exc.code is None:
            raise  # connection-level: stop this batch, release the rest
        return _record_refusal(session, message, exc, now)
    message.status = MessageStatus.SENT
    message.sent_at = now
    message.lease_until = None
    message.message_id_header = header_id
    message.smtp_response = response[:1000]
    if message.contact_id is not None and message.kind != MessageKind.TEST:
        session.add(Event(contact_id=message.contact_id, type=EventType.EMAIL_SENT, occurred_at=now,
                          message_id=message.id, campaign_id=message.campaign_id, step_id=message.step_id,
                          source="delivery", properties={"subject": rendered.subject}, created_at=now))
    session.commit()
    return "sent"


def _record_refusal(session: Session, message: Message, exc: SendError, now: datetime) -> str:
    message.smtp_response = str(exc)[:1000]
    message.lease_until = None
    if exc.retriable and message.attempts < MAX_ATTEMPTS:
        message.status = MessageStatus.PENDING
        message.next_attempt_at = now + backoff(message.attempts)
        message.queued_at = None
        outcome = "retry"
    else:
        message.status = MessageStatus.FAILED
        message.error = str(exc)[:1000]
        outcome = "failed"
    session.commit()
    return outcome


def _release_unsent(session: Session, claimed: list[int], now: datetime, error: SendError | None) -> int:
    """Messages still 'sending' after the batch never reached the server: owe them again."""
    session.rollback()
    result = session.execute(
        update(Message).where(Message.id.in_(claimed), Message.status == MessageStatus.SENDING)
        .values(status=MessageStatus.PENDING, lease_until=None, queued_at=None,
                next_attempt_at=now + backoff(1), smtp_response=str(error)[:1000] if error else None)
    )
    session.commit()
    return result.rowcount or 0


def _envelope_from(services) -> str:
    from email.utils import parseaddr

    return parseaddr(services.config.mail_from)[1]


def sweep(services, *, requeue_after: timedelta) -> dict[str, int]:
    """Expired leases become 'unknown'; pending messages nobody queued recently are queued again."""
    from app.queueing import enqueue_sends

    now = services.now()
    with services.sessions() as session:
        unknown = session.execute(
            update(Message).where(Message.status == MessageStatus.SENDING, Message.lease_until < now)
            .values(status=MessageStatus.UNKNOWN, error="worker stopped mid-send; not resent automatically")
        ).rowcount or 0
        stale = session.scalars(select(Message.id).where(
            Message.status == MessageStatus.PENDING,
            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            or_(Message.queued_at.is_(None), Message.queued_at < now - requeue_after),
        ).order_by(Message.id).limit(50_000)).all()
        session.commit()
    requeued = enqueue_sends(services, list(stale))
    return {"unknown": unknown, "requeued": requeued}
