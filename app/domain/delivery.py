"""Sending owed messages exactly once.

A batch is claimed under a lease (pending → claimed). Just before a message is handed to SMTP it
is marked sending in the same commit that records the previous message as sent, so at any moment
at most one message per connection is in flight. If the worker dies, claimed messages go back to
pending when the lease ends (they never reached a server) and the one sending message becomes
unknown: it may have been accepted, so it is counted and shown, never resent silently.
"""
from __future__ import annotations

import logging
import random
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session, defer, selectinload

from app.mail import ConnectionLost, Refused, SendError
from app.models import Contact, EmailStatus, Event, EventType, Message, MessageKind, MessageStatus

from . import smtp_replies
from .composing import build_mime, render_message
from .enrollment import may_receive
from .lifecycle import set_email_status
from .relay_slots import relay_slot
from .rendering import TemplateError
from .throttling import BLOCK_PAUSE, THROTTLE_PAUSE, Throttle, raise_alert

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8  # about two days of backoff before giving up


def backoff(attempt: int, base_seconds: int = 60, rng: random.Random = random) -> timedelta:
    """Exponential from the base (a minute), capped at six hours, with ±20 % jitter so retries spread out."""
    delay = min(base_seconds * 2 ** max(attempt - 1, 0), 6 * 3600)
    return timedelta(seconds=delay * rng.uniform(0.8, 1.2))


def claim(session: Session, message_ids: list[int], *, now: datetime, lease_seconds: int) -> list[int]:
    rows = session.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.status == MessageStatus.PENDING,
               or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now))
        .values(status=MessageStatus.CLAIMED, lease_until=now + timedelta(seconds=lease_seconds))
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
    """Send what can be claimed of these messages, over up to `smtp_connections` connections at once."""
    with services.sessions() as session:
        claimed = claim(session, message_ids, now=services.now(), lease_seconds=services.config.lease_seconds)
    counts = {"sent": 0, "suppressed": 0, "retry": 0, "deferred": 0, "failed": 0, "bounced": 0, "unknown": 0,
              "skipped": len(message_ids) - len(claimed)}
    if not claimed:
        return counts
    lanes = max(1, min(services.config.smtp_connections if services.config.smtp else 1, len(claimed)))
    chunks = [claimed[i::lanes] for i in range(lanes)]
    if lanes == 1:
        results = [_send_lane(services, chunks[0])]
    else:
        with ThreadPoolExecutor(lanes, thread_name_prefix="smtp") as pool:
            results = list(pool.map(lambda chunk: _send_lane(services, chunk), chunks))
    errors = [error for lane_counts, error in results if error is not None]
    for lane_counts, _ in results:
        for key, value in lane_counts.items():
            counts[key] += value
    if errors:
        raise errors[0]  # the job fails visibly; every message is already back to pending, or unknown
    return counts


def _transition(*columns: str):
    """A prebuilt UPDATE of one message by id: built and compiled once, executed per message."""
    return (update(Message).where(Message.id == bindparam("message_id"))
            .values({name: bindparam(name) for name in columns}))


MARK_SENDING = _transition("status", "attempts", "subject", "message_id_header")
MARK_SENT = _transition("status", "sent_at", "lease_until", "smtp_response")
MARK_FINAL = _transition("status", "lease_until", "error")
MARK_PENDING = _transition("status", "lease_until", "queued_at", "next_attempt_at", "error", "attempts")
MARK_REPLY = _transition("smtp_response")
RECORD_SENT = insert(Event).values(type=EventType.EMAIL_SENT, source="delivery", is_machine=False)

# PostgreSQL: the previous message's 'sent' (with its event) and this one's 'sending' in a single
# autocommitted statement — one round trip per message instead of four.
PG_ADVANCE = """
WITH sent AS (
    UPDATE messages SET status = 'sent', sent_at = %(sent_at)s, lease_until = NULL, smtp_response = %(reply)s
    WHERE id = %(sent_id)s RETURNING id, contact_id, campaign_id, step_id, kind),
recorded AS (
    INSERT INTO events (contact_id, type, occurred_at, message_id, campaign_id, step_id, properties,
                        is_machine, source, created_at)
    SELECT contact_id, 'email_sent', %(sent_at)s, id, campaign_id, step_id, %(properties)s, false, 'delivery',
           %(sent_at)s
    FROM sent WHERE contact_id IS NOT NULL AND kind <> 'test')
UPDATE messages SET status = 'sending', attempts = %(attempts)s, subject = %(subject)s,
                    message_id_header = %(header)s
WHERE id = %(sending_id)s
"""


class _Lane:
    """One connection's worth of messages. State changes are prebuilt Core statements (the ORM's
    unit of work costs more than the send), and each message's 'sent' rides in the next one's commit."""

    def __init__(self, services, session: Session, throttle: Throttle):
        self.services, self.session, self.throttle = services, session, throttle
        self.counts: dict[str, int] = {}
        self.handled = 0
        self.envelope_from = parseaddr(services.config.mail_from)[1]
        self.unrecorded: tuple | None = None  # (message, reply, subject, sent_at) not yet written
        self._pooled = self.fast = None
        if services.engine.dialect.name == "postgresql":
            self._pooled = services.engine.raw_connection()
            self.fast = self._pooled.driver_connection
            self.fast.autocommit = True
            if not services.config.delivery_sync_commit:
                # A killed worker loses nothing already committed; only a database crash could lose
                # the last moments of bookkeeping. A commit then costs a round trip, not an fsync.
                self.fast.execute("SET synchronous_commit TO OFF")

    def close(self) -> None:
        """Write the last 'sent' and hand the fast connection back to the pool as it was."""
        self._advance(None)
        if self._pooled is not None:
            self.fast.execute("RESET synchronous_commit")
            self.fast.autocommit = False
            self._pooled.close()
            self._pooled = self.fast = None

    def _advance(self, sending: tuple | None) -> None:
        """Record the last sent message and mark `sending` = (message, attempts, subject, header)."""
        done, self.unrecorded = self.unrecorded, None
        if done is None and sending is None:
            return
        if self.fast is not None:
            from psycopg.types.json import Jsonb

            message, attempts, subject, header = sending or (None, None, None, None)
            self.fast.execute(PG_ADVANCE, {
                "sent_id": done[0].id if done else None, "reply": done[1] if done else None,
                "properties": Jsonb({"subject": done[2]} if done else {}), "sent_at": done[3] if done else None,
                "sending_id": message.id if message else None, "attempts": attempts, "subject": subject,
                "header": header})
            return
        if done is not None:
            sent, reply, subject, sent_at = done
            self.set(MARK_SENT, sent, status=MessageStatus.SENT, sent_at=sent_at, lease_until=None, smtp_response=reply)
            if sent.contact_id is not None and sent.kind != MessageKind.TEST:
                self.session.connection().execute(RECORD_SENT, {
                    "contact_id": sent.contact_id, "occurred_at": sent_at, "message_id": sent.id,
                    "campaign_id": sent.campaign_id, "step_id": sent.step_id,
                    "properties": {"subject": subject}, "created_at": sent_at})
        if sending is not None:
            message, attempts, subject, header = sending
            self.set(MARK_SENDING, message, status=MessageStatus.SENDING, attempts=attempts, subject=subject,
                     message_id_header=header)
        self.session.commit()

    def count(self, outcome: str) -> None:
        """Every message the lane takes ends here exactly once, whatever became of it."""
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        self.handled += 1

    def set(self, statement, message: Message, **values) -> None:
        # Straight to the connection: the lane reads each message once, before it changes.
        self.session.connection().execute(statement, {"message_id": message.id, **values})

    def send(self, connection, message: Message) -> None:
        now = self.services.now()
        if not still_wanted(message):
            self._finish(message, MessageStatus.SUPPRESSED, error="contact can no longer receive this email")
            return self.count("suppressed")
        domain = message.to_email.rsplit("@", 1)[-1]
        campaign = message.campaign
        hold = self.throttle.hold_until(domain, message.campaign_id, campaign.rate_per_minute if campaign else None, now)
        if hold is not None:
            self._defer(message, hold, "held by a sending limit")
            return self.count("deferred")
        try:
            rendered = render_message(self.services, message)
            header_id, raw = build_mime(self.services, message, rendered, now)
        except (TemplateError, ValueError) as exc:  # refused at sync time normally; never retried blindly
            self._finish(message, MessageStatus.FAILED, error=f"cannot render: {exc}")
            return self.count("failed")
        attempts = message.attempts + 1
        self._advance((message, attempts, rendered.subject[:500], header_id))  # durable before SMTP sees it
        try:
            reply = connection.send(self.envelope_from, message.to_email, raw, message_id=message.id,
                                    subject=rendered.subject)
        except Refused as exc:
            return self.count(self._refused(message, exc, attempts, now))
        except ConnectionLost as exc:
            if exc.maybe_accepted:
                self._finish(message, MessageStatus.UNKNOWN, error=f"no answer after the message was handed over: {exc}")
                self.count("unknown")
            else:
                self.count(self._retry(message, attempts, str(exc), now))
            raise
        self.unrecorded = (message, reply, rendered.subject, now)  # written with the next message's 'sending'
        self.count("sent")

    def _finish(self, message: Message, status: str, *, error: str) -> None:
        self.set(MARK_FINAL, message, status=status, lease_until=None, error=error[:1000])
        self._settle()

    def _defer(self, message: Message, until: datetime, why: str, attempts: int | None = None) -> None:
        self.set(MARK_PENDING, message, status=MessageStatus.PENDING, lease_until=None, queued_at=None,
                 next_attempt_at=until, error=why[:1000], attempts=message.attempts if attempts is None else attempts)
        self._settle()

    def _settle(self) -> None:
        """With the fast path, the session carries only these rarer outcomes: commit them at once."""
        if self.fast is not None:
            self.session.commit()

    def _retry(self, message: Message, attempts: int, why: str, now: datetime) -> str:
        if attempts >= MAX_ATTEMPTS:
            self._finish(message, MessageStatus.FAILED, error=f"gave up after {attempts} attempts: {why}")
            return "failed"
        self._defer(message, now + backoff(attempts, self.services.config.retry_base_seconds), why, attempts)
        return "retry"

    def _refused(self, message: Message, exc: Refused, attempts: int, now: datetime) -> str:
        self.set(MARK_REPLY, message, smtp_response=str(exc)[:1000])
        verdict = smtp_replies.classify(exc.code, exc.text)
        domain = message.to_email.rsplit("@", 1)[-1]
        if verdict.action == smtp_replies.RETRY:
            return self._retry(message, attempts, str(exc), now)
        if verdict.action == smtp_replies.THROTTLE:
            self.throttle.pause(self.session, domain, now + THROTTLE_PAUSE, str(exc), now)
            # Being asked to slow down is not a failed attempt.
            self._defer(message, now + THROTTLE_PAUSE, f"{domain} asked us to slow down: {exc}", attempts=attempts - 1)
            return "deferred"
        if verdict.action == smtp_replies.BLOCK:
            self.throttle.pause(self.session, domain, now + BLOCK_PAUSE, str(exc), now)
            raise_alert(self.session, "policy_block", f"{domain} refused mail on policy", str(exc), now)
            self._retry(message, attempts, f"policy rejection by {domain}: {exc}", now)
            return "retry"
        if verdict.action == smtp_replies.BOUNCE:
            if message.contact is not None and message.kind != MessageKind.TEST:
                contact = message.contact
                self.session.add(Event(contact_id=contact.id, type=EventType.BOUNCE, occurred_at=now,
                                       message_id=message.id, campaign_id=message.campaign_id,
                                       step_id=message.step_id, source="smtp", properties={"reply": str(exc)},
                                       created_at=now))
                set_email_status(self.session, contact, EmailStatus.BOUNCED, cause=f"hard bounce: {exc}",
                                 actor="smtp", now=now)
            self._finish(message, MessageStatus.BOUNCED, error=str(exc))
            return "bounced"
        self._finish(message, MessageStatus.FAILED, error=str(exc))
        return "failed"


def _send_lane(services, ids: list[int]) -> tuple[dict[str, int], SendError | None]:
    with services.sessions() as session:
        messages = session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id).options(
            # Scoring's outputs are large and sending never reads them.
            selectinload(Message.contact).options(defer(Contact.score_reasons), defer(Contact.fit_reasons),
                                                  selectinload(Contact.persona)),
            selectinload(Message.step_version),
            selectinload(Message.campaign), selectinload(Message.handoff))).all()
        throttle = Throttle(session, services.redis, services.now())
        if services.engine.dialect.name == "postgresql":
            # Hand the loading connection back: the lane sends on its own autocommit connection, and
            # the session checks one out again only for the rarer outcomes. One connection per lane.
            session.commit()
        lane = _Lane(services, session, throttle)
        error: SendError | None = None
        try:
            with _connection_allowed(services) as allowed:
                if allowed:
                    with services.sender().connect() as connection:
                        for message in messages:
                            lane.send(connection, message)
            lane.close()
            session.commit()
        except SendError as exc:
            error = exc
            lane.close()
            session.commit()  # keeps what was recorded, including the lost message's verdict
        finally:
            session.rollback()
            # Only a lane cut short leaves claimed messages behind; a full one skips the statement.
            released = 0 if lane.handled == len(ids) else _release_claimed(
                session, ids, services.now() + timedelta(seconds=services.config.retry_base_seconds / 2))
            if released:
                lane.counts["retry"] = lane.counts.get("retry", 0) + released
    return lane.counts, error


def _connection_allowed(services):
    """A slot under the relay's connection cap (SMTP only; the outbox has no such limit)."""
    smtp = services.config.smtp
    if smtp is None:
        return nullcontext(True)
    return relay_slot(services.redis, f"{smtp.host}:{smtp.port}", limit=services.config.smtp_max_connections,
                      lease_seconds=services.config.lease_seconds)


def _release_claimed(session: Session, ids: list[int], not_before: datetime) -> int:
    """Claimed messages this lane never handed over go back to pending, to be sent soon."""
    result = session.execute(
        update(Message).where(Message.id.in_(ids), Message.status == MessageStatus.CLAIMED)
        .values(status=MessageStatus.PENDING, lease_until=None, queued_at=None, next_attempt_at=not_before))
    session.commit()
    return result.rowcount or 0


def sweep(services, *, requeue_after: timedelta) -> dict[str, int]:
    """Expired leases: claimed → pending (never handed over), sending → unknown (maybe accepted).
    Then pending messages nobody queued recently are queued again."""
    from app.queueing import enqueue_sends

    now = services.now()
    with services.sessions() as session:
        released = session.execute(
            update(Message).where(Message.status == MessageStatus.CLAIMED, Message.lease_until < now)
            .values(status=MessageStatus.PENDING, lease_until=None, queued_at=None)).rowcount or 0
        unknown = session.execute(
            update(Message).where(Message.status == MessageStatus.SENDING, Message.lease_until < now)
            .values(status=MessageStatus.UNKNOWN, lease_until=None,
                    error="the worker stopped while handing this message over; not resent automatically")
        ).rowcount or 0
        stale = session.scalars(select(Message.id).where(
            Message.status == MessageStatus.PENDING,
            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            or_(Message.queued_at.is_(None), Message.queued_at < now - requeue_after),
        ).order_by(Message.id).limit(50_000)).all()
        session.commit()
    requeued = enqueue_sends(services, list(stale))
    return {"unknown": unknown, "released": released, "requeued": requeued}
