"""Sending owed messages exactly once.

A batch is claimed (its pending messages take the job's claim number) and split into lanes, one per SMTP
connection, each with a journal row (app.domain.send_journal). Just before a message is handed
to SMTP its lane records the message's position in the journal, so at any moment at most one
message per connection is in flight. Accepted messages are written as sent, with their events,
in bulk when the lane ends; rarer outcomes (suppressed, deferred, refused, failed) at once. If
the worker dies, the sweeper settles its lanes when their lease ends: what the journal shows as
accepted becomes sent, the message in flight becomes unknown (it may have been accepted: counted
and shown, never resent silently), and the rest goes back to pending.
"""
from __future__ import annotations

import logging
import random
import secrets
from contextlib import nullcontext
from dataclasses import dataclass
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Iterator
from email.utils import parseaddr

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from app.mail import ConnectionLost, Refused, SendError
from app.models import Contact, EmailStatus, Event, EventType, Message, MessageKind, MessageStatus

from . import smtp_replies
from .composing import build_mime, render_message
from .enrollment import may_receive
from .lifecycle import set_email_status
from .outgoing import OwnSession, id_among, load_message, load_outgoing
from .relay_slots import relay_slot
from .rendering import TemplateError
from .send_journal import Accepted, Journal, LaneTakenOver, open_lanes, settle_abandoned_lanes
from .throttling import BLOCK_PAUSE, THROTTLE_PAUSE, Throttle, raise_alert

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8  # about two days of backoff before giving up


def backoff(attempt: int, base_seconds: int = 60, rng: random.Random = random) -> timedelta:
    """Exponential from the base (a minute), capped at six hours, with ±20 % jitter so retries spread out."""
    delay = min(base_seconds * 2 ** max(attempt - 1, 0), 6 * 3600)
    return timedelta(seconds=delay * rng.uniform(0.8, 1.2))


def claim(session: Session, message_ids: list[int], *, now: datetime, claim_id: int) -> list[int]:
    """Take what is free, pending and due of these messages under `claim_id` (not committed here).

    The status stays pending: a claim changes only the unindexed `claim` column, so on PostgreSQL
    it is a heap-only update. A concurrent claimer re-checks the row it waited for and finds it taken.
    The conditions are written so that only the primary key can serve them: right after a large
    plan, before statistics catch up, the planner would otherwise walk every pending row through
    ix_messages_status for each batch."""
    rows = session.execute(
        update(Message)
        .where(id_among(Message.id, list(message_ids), session), Message.claim.is_(None),
               Message.status.concat("") == MessageStatus.PENDING,
               func.coalesce(Message.next_attempt_at, now) <= now)
        .values(claim=claim_id)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    ).scalars().all()
    return sorted(rows)


def new_claim_id() -> int:
    """Random, so claims need no coordination between workers; 62 bits make a collision moot."""
    return secrets.randbits(62) + 1


def still_wanted(message) -> bool:
    """Suppression is checked again at the last moment: unsubscribes and handoffs win over the queue."""
    if message.kind in (MessageKind.NOTIFICATION, MessageKind.TEST):
        return True
    contact = message.contact
    return contact is not None and message.campaign is not None and may_receive(contact, message.campaign)


def send_batch(services, message_ids: list[int]) -> dict[str, int]:
    """Send what can be claimed of these messages, over up to `smtp_connections` connections at once."""
    now = services.now()
    lease_until = now + timedelta(seconds=services.config.lease_seconds)
    with services.sessions() as session:
        claim_id = new_claim_id()
        claimed = claim(session, message_ids, now=now, claim_id=claim_id)
        counts = {"sent": 0, "suppressed": 0, "retry": 0, "deferred": 0, "failed": 0, "bounced": 0, "unknown": 0,
                  "skipped": len(message_ids) - len(claimed)}
        if not claimed:
            session.commit()
            return counts
        lanes = max(1, min(services.config.smtp_connections if services.config.smtp else 1, len(claimed)))
        chunks = [claimed[i::lanes] for i in range(lanes)]
        lane_ids = open_lanes(session, chunks, claim_id=claim_id, now=now, lease_until=lease_until)
        session.commit()  # claimed and journaled together: a claimed message always belongs to a lane
        outgoing = load_outgoing(session, claimed)
        throttle = Throttle(session, services.redis, now)
        session.commit()  # the lanes use connections of their own; this one goes back to the pool
    work = [(lane_id, claim_id, chunk, [outgoing.get(i) for i in chunk]) for lane_id, chunk in zip(lane_ids, chunks)]
    if lanes == 1:
        results = [_send_lane(services, throttle, *work[0])]
    else:
        with ThreadPoolExecutor(lanes, thread_name_prefix="smtp") as pool:
            results = list(pool.map(lambda lane: _send_lane(services, throttle, *lane), work))
    errors = [error for lane_counts, error in results if error is not None]
    for lane_counts, _ in results:
        for key, value in lane_counts.items():
            counts[key] += value
    if errors:
        raise errors[0]  # the job fails visibly; every message is already back to pending, or unknown
    return counts


def _transition(*columns: str):
    """A prebuilt UPDATE of one message still under the lane's claim: built and compiled once,
    executed per message. A lane the sweeper settled meanwhile (its worker hung past the lease)
    no longer holds the claim, so its late word changes nothing another job may now own."""
    return (update(Message).where(Message.id == bindparam("message_id"), Message.claim == bindparam("held_by"))
            .values({name: bindparam(name) for name in columns}))


MARK_FINAL = _transition("status", "claim", "error", "attempts")
MARK_PENDING = _transition("status", "claim", "queued_at", "next_attempt_at", "error", "attempts")
MARK_REPLY = _transition("smtp_response")


@dataclass(slots=True)
class Ready:
    """A message that passed the last checks and is rendered, about to be handed over."""

    position: int  # in the lane's journal
    message: object
    subject: str
    header: str
    raw: bytes
    attempts: int
    now: datetime


class _Lane:
    """One connection's worth of messages. The journal carries the per-message bookkeeping; the
    session carries only the rarer outcomes, each committed at once."""

    def __init__(self, services, session: Session, throttle: Throttle, journal: Journal):
        self.services, self.session, self.throttle, self.journal = services, session, throttle, journal
        self.counts: dict[str, int] = {}
        self.handled = 0
        self.envelope_from = parseaddr(services.config.mail_from)[1]
        self.accepted: list[Accepted] = []

    def count(self, outcome: str) -> None:
        """Every message the lane takes ends here exactly once, whatever became of it."""
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        self.handled += 1

    def set(self, statement, message, **values) -> None:
        self.session.connection().execute(statement, {"message_id": message.id, "held_by": self.journal.claim_id,
                                                      **values})

    def run(self, connection, messages: list) -> None:
        """Hand each message over in turn. Where the server pipelines, the next message's envelope
        rides behind the current one's content: one round trip per message instead of two."""
        upcoming = self._ready(messages)
        current = next(upcoming, None)
        if current is not None:
            connection.open_envelope(self.envelope_from, current.message.to_email)
        while current is not None:
            message = current.message
            try:
                connection.envelope_result()
            except Refused as exc:
                self.count(self._refused(message, exc, current.attempts, current.now))
                current = self._open_next(connection, upcoming)
                continue
            except ConnectionLost as exc:  # nothing of this message reached the server
                self.count(self._retry(message, current.attempts, str(exc), current.now))
                raise
            # The next message is made ready while the journal write travels (its envelope rides
            # along with this content); the write is committed before this content goes out.
            self.journal.start_hand_over(current.position, current.now)
            try:
                following = next(upcoming, None)
            finally:
                self.journal.finish_hand_over()
            try:
                connection.send_content(current.raw, message_id=message.id, subject=current.subject,
                                        next_envelope=(self.envelope_from, following.message.to_email)
                                        if following is not None else None)
                reply = connection.content_result()
            except Refused as exc:
                self.count(self._refused(message, exc, current.attempts, current.now))
            except ConnectionLost as exc:
                if exc.maybe_accepted:
                    self._finish(message, MessageStatus.UNKNOWN, attempts=current.attempts,
                                 error=f"no answer after the message was handed over: {exc}")
                    self.count("unknown")
                else:
                    self.count(self._retry(message, current.attempts, str(exc), current.now))
                raise
            else:
                self.accepted.append(Accepted(message, reply, current.subject[:500], current.header, current.now,
                                              current.attempts))
                self.count("sent")
            current = following
            if current is not None:
                connection.open_envelope(self.envelope_from, current.message.to_email)

    def _open_next(self, connection, upcoming):
        current = next(upcoming, None)
        if current is not None:
            connection.open_envelope(self.envelope_from, current.message.to_email)
        return current

    def _ready(self, messages: list) -> Iterator[Ready]:
        """The messages that should go now, rendered; the others are settled on the way."""
        for position, message in enumerate(messages):
            if isinstance(message, OwnSession):
                message = load_message(self.session, message.id)
            if message is None:
                continue
            now = self.services.now()
            if not still_wanted(message):
                self._finish(message, MessageStatus.SUPPRESSED, error="contact can no longer receive this email")
                self.count("suppressed")
                continue
            domain = message.to_email.rsplit("@", 1)[-1]
            campaign = message.campaign
            hold = self.throttle.hold_until(domain, message.campaign_id,
                                            campaign.rate_per_minute if campaign else None, now)
            if hold is not None:
                self._defer(message, hold, "held by a sending limit")
                self.count("deferred")
                continue
            try:
                rendered = render_message(self.services, message)
                header_id, raw = build_mime(self.services, message, rendered, now)
            except (TemplateError, ValueError) as exc:  # refused at sync time normally; never retried blindly
                self._finish(message, MessageStatus.FAILED, error=f"cannot render: {exc}")
                self.count("failed")
                continue
            yield Ready(position, message, rendered.subject, header_id, raw, message.attempts + 1, now)

    def _finish(self, message, status: str, *, error: str, attempts: int | None = None) -> None:
        self.set(MARK_FINAL, message, status=status, claim=None, error=error[:1000],
                 attempts=message.attempts if attempts is None else attempts)
        self.session.commit()

    def _defer(self, message, until: datetime, why: str, attempts: int | None = None) -> None:
        self.set(MARK_PENDING, message, status=MessageStatus.PENDING, claim=None, queued_at=None,
                 next_attempt_at=until, error=why[:1000], attempts=message.attempts if attempts is None else attempts)
        self.session.commit()

    def _retry(self, message, attempts: int, why: str, now: datetime) -> str:
        if attempts >= MAX_ATTEMPTS:
            self._finish(message, MessageStatus.FAILED, attempts=attempts, error=f"gave up after {attempts} attempts: {why}")
            return "failed"
        self._defer(message, now + backoff(attempts, self.services.config.retry_base_seconds), why, attempts)
        return "retry"

    def _refused(self, message, exc: Refused, attempts: int, now: datetime) -> str:
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
            contact = self.session.get(Contact, message.contact_id) if message.contact_id is not None else None
            if contact is not None and message.kind != MessageKind.TEST:
                self.session.add(Event(contact_id=contact.id, type=EventType.BOUNCE, occurred_at=now,
                                       message_id=message.id, campaign_id=message.campaign_id,
                                       step_id=message.step_id, source="smtp", properties={"reply": str(exc)},
                                       created_at=now))
                set_email_status(self.session, contact, EmailStatus.BOUNCED, cause=f"hard bounce: {exc}",
                                 actor="smtp", now=now)
            self._finish(message, MessageStatus.BOUNCED, attempts=attempts, error=str(exc))
            return "bounced"
        self._finish(message, MessageStatus.FAILED, attempts=attempts, error=str(exc))
        return "failed"


def _send_lane(services, throttle: Throttle, lane_id: int, claim_id: int, ids: list[int],
               messages: list) -> tuple[dict[str, int], SendError | None]:
    error: SendError | None = None
    journal = Journal(services, lane_id, claim_id, ids)
    with services.sessions() as session:
        lane = _Lane(services, session, throttle, journal)
        try:
            with _connection_allowed(services) as allowed:
                if allowed:
                    with services.sender().connect() as connection:
                        lane.run(connection, messages)
        except SendError as exc:
            error = exc
        except LaneTakenOver as exc:
            log.warning("%s; it stops here", exc)
        finally:
            session.rollback()
            try:
                # A full lane has nothing left to release; a lane cut short hands the rest back.
                released = journal.settle(
                    lane.accepted, release_rest=lane.handled < len(ids),
                    not_before=services.now() + timedelta(seconds=services.config.retry_base_seconds / 2))
            finally:
                journal.close()
            if released:
                lane.counts["retry"] = lane.counts.get("retry", 0) + released
    return lane.counts, error


def recovered_subject(services, session: Session, message_id: int) -> str:
    """The subject a message the journal shows as accepted went out with, rendered again from its
    step version for its contact (as they are now); empty if it can no longer be rendered."""
    message = load_message(session, message_id)
    if message is None:
        return ""
    try:
        return render_message(services, message).subject
    except (TemplateError, ValueError, AttributeError):  # e.g. a contact erased meanwhile
        return ""


def _connection_allowed(services):
    """A slot under the relay's connection cap (SMTP only; the outbox has no such limit)."""
    smtp = services.config.smtp
    if smtp is None:
        return nullcontext(True)
    return relay_slot(services.redis, f"{smtp.host}:{smtp.port}", limit=services.config.smtp_max_connections,
                      lease_seconds=services.config.lease_seconds)


def sweep(services, *, requeue_after: timedelta) -> dict[str, int]:
    """Abandoned lanes are settled from their journal (their claims end with them); then pending
    messages nobody holds or queued recently are queued again."""
    from app.queueing import enqueue_sends

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
