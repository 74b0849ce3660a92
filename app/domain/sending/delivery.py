"""Sending owed messages exactly once.

A batch is claimed (its pending messages take the job's claim number) and split into lanes, one per SMTP
connection, each with a journal row (app.domain.sending.journal). The job drives its lanes in rounds;
just before a round's messages are handed to SMTP, one journal write records each lane's position,
so at any moment at most one message per connection is in flight. Accepted messages are written as
sent, with their events, in bulk when the job ends; rarer outcomes (suppressed, deferred, refused,
failed) at once. If the worker dies, the sweeper settles its lanes when their lease ends: what the
journal shows as accepted becomes sent, the message in flight becomes unknown (it may have been
accepted: counted and shown, never resent silently), and the rest goes back to pending.
"""
from __future__ import annotations

import logging
import random
import secrets
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator
from email.utils import parseaddr

from sqlalchemy import bindparam, func, update
from sqlalchemy.orm import Session

from app.infra.mail import ConnectionLost, Refused, SendError
from app.models import Contact, EmailStatus, Event, EventType, Message, MessageKind, MessageStatus

from app.domain.sending import smtp_replies
from app.domain.messages.composing import build_mime
from app.domain.sending.contents import message_content
from app.domain.campaigns.enrollment import may_receive
from app.domain.campaigns.enrollment import set_email_status
from app.domain.contacts.webhooks import emit_bounce
from app.domain.sending.outgoing import OwnSession, id_among, load_message, load_outgoing
from app.infra.relay_slots import relay_slot
from app.domain.messages.rendering import TemplateError
from app.domain.sending.journal import Accepted, Journal, open_lanes
from app.domain.sending.throttling import BLOCK_PAUSE, THROTTLE_PAUSE, Throttle, raise_alert

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
        connections = max(1, min(services.config.smtp_connections if services.config.smtp else 1, len(claimed)))
        chunks = [claimed[i::connections] for i in range(connections)]
        lane_ids = open_lanes(session, chunks, claim_id=claim_id, now=now, lease_until=lease_until)
        session.commit()  # claimed and journaled together: a claimed message always belongs to a lane
        outgoing = load_outgoing(session, claimed)
        throttle = Throttle(session, services.redis, now)
        session.commit()  # the job writes outcomes on a session of its own; this one goes back to the pool
    journal = Journal(services, claim_id, dict(zip(lane_ids, chunks)))
    lanes = [_Lane(lane_id, chunk, [outgoing.get(i) for i in chunk]) for lane_id, chunk in zip(lane_ids, chunks)]
    try:
        with services.sessions() as session:
            job = _Job(services, session, throttle, journal)
            try:
                job.run(lanes)
            finally:
                session.rollback()
                # A lane that went through its messages has nothing left to release; one cut short hands the rest back.
                released = journal.settle(
                    job.accepted, release=[lane.id for lane in lanes if lane.handled < len(lane.ids)],
                    not_before=services.now() + timedelta(seconds=services.config.retry_base_seconds / 2))
    finally:
        journal.close()
    for key, value in job.counts.items():
        counts[key] += value
    counts["retry"] += released
    errors = [lane.error for lane in lanes if lane.error is not None]
    if errors:
        raise errors[0]  # the job fails visibly; every message is already back to pending, or unknown
    return counts


def _transition(*columns: str):
    """A prebuilt UPDATE of one message still under the job's claim: built and compiled once,
    executed per message. A job the sweeper settled meanwhile (its worker hung past the lease)
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
    """One connection's share of a batch: its messages in journal order and where it stands."""

    def __init__(self, lane_id: int, ids: list[int], messages: list):
        self.id, self.ids, self.messages = lane_id, ids, messages
        self.connection = None
        self.upcoming: Iterator[Ready] = iter(())
        self.current: Ready | None = None    # its envelope is open on the connection
        self.following: Ready | None = None  # rendered while the journal write travels
        self.in_flight: Ready | None = None  # its content went out; the answer is not in yet
        self.handled = 0                     # messages that reached an outcome
        self.error: SendError | None = None  # what stopped the lane early, if anything

    def stop(self, error: SendError | None = None) -> None:
        self.current = self.following = None
        self.error = self.error or error


class _Job:
    """A send job's lanes, driven in rounds from one thread. In each round every lane whose next
    envelope the server took hands one message over: the journal records all their positions in
    one write, then every content goes out and every answer is read. At any moment at most one
    message per connection is in flight, and the journal costs one commit per round, not per
    message. Where the server pipelines, a lane's next envelope rides behind its current content:
    one round trip per message instead of two."""

    def __init__(self, services, session: Session, throttle: Throttle, journal: Journal):
        self.services, self.session, self.throttle, self.journal = services, session, throttle, journal
        self.counts: dict[str, int] = {}
        self.envelope_from = parseaddr(services.config.mail_from)[1]
        self.accepted: list[Accepted] = []

    def count(self, lane: _Lane, outcome: str) -> None:
        """Every message a lane takes ends here exactly once, whatever became of it."""
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        lane.handled += 1

    def set(self, statement, message, **values) -> None:
        self.session.connection().execute(statement, {"message_id": message.id, "held_by": self.journal.claim_id,
                                                      **values})

    def run(self, lanes: list[_Lane]) -> None:
        with ExitStack() as connections:
            for lane in lanes:
                try:
                    if connections.enter_context(_connection_allowed(self.services)):
                        lane.connection = connections.enter_context(self.services.sender().connect())
                except SendError as exc:
                    lane.error = exc
            working = [lane for lane in lanes if lane.connection is not None]
            try:
                for lane in working:
                    lane.upcoming = self._ready(lane)
                    self._open_next(lane)
                while True:
                    handing_over = [lane for lane in working if self._envelope_taken(lane)]
                    if not handing_over:
                        break
                    self._hand_over(handing_over)
                    for lane in working:
                        if lane.current is None and lane.handled == len(lane.ids):
                            self.journal.all_handled(lane.id)
                    working = [lane for lane in working if lane.current is not None]
            finally:
                for lane in lanes:
                    if lane.in_flight is not None:  # an unexpected error between a content and its answer
                        self.session.rollback()
                        self._finish(lane.in_flight.message, MessageStatus.UNKNOWN, attempts=lane.in_flight.attempts,
                                     error="the send job stopped before the server answered; not resent automatically")
                        self.count(lane, "unknown")

    def _envelope_taken(self, lane: _Lane) -> bool:
        """Whether the server took the envelope of the lane's current message; refused ones are
        settled and the next is tried."""
        while lane.current is not None:
            current = lane.current
            try:
                lane.connection.envelope_result()
                return True
            except Refused as exc:
                self.count(lane, self._refused(current.message, exc, current.attempts, current.now))
                self._open_next(lane)
            except ConnectionLost as exc:  # nothing of this message reached the server
                self.count(lane, self._retry(current.message, current.attempts, str(exc), current.now))
                lane.stop(exc)
        return False

    def _hand_over(self, lanes: list[_Lane]) -> None:
        # The next messages are made ready while the journal write travels (their envelopes ride
        # along with these contents); the write is committed before any of these contents go out.
        self.journal.start_hand_over({lane.id: lane.current.position for lane in lanes}, self.services.now())
        try:
            for lane in lanes:
                lane.following = next(lane.upcoming, None)
        finally:
            taken_over = self.journal.finish_hand_over()
        answering = []
        for lane in lanes:
            current, following = lane.current, lane.following
            if lane.id in taken_over:
                log.warning("send lane %s was settled by the sweeper after its lease ran out; it stops here", lane.id)
                lane.stop()
                continue
            lane.in_flight = current
            try:
                lane.connection.send_content(current.raw, message_id=current.message.id, subject=current.subject,
                                             next_envelope=(self.envelope_from, following.message.to_email)
                                             if following is not None else None)
                answering.append(lane)
            except ConnectionLost as exc:
                self._lost(lane, current, exc)
        for lane in answering:
            current = lane.current
            try:
                reply = lane.connection.content_result()
            except Refused as exc:
                self.count(lane, self._refused(current.message, exc, current.attempts, current.now))
            except ConnectionLost as exc:
                self._lost(lane, current, exc)
                continue
            else:
                self.accepted.append(Accepted(current.message, reply, current.subject[:500], current.header,
                                              current.now, current.attempts))
                self.count(lane, "sent")
            finally:
                lane.in_flight = None
            lane.current = lane.following
            self._open_envelope(lane)

    def _lost(self, lane: _Lane, current: Ready, exc: ConnectionLost) -> None:
        lane.in_flight = None
        if exc.maybe_accepted:
            self._finish(current.message, MessageStatus.UNKNOWN, attempts=current.attempts,
                         error=f"no answer after the message was handed over: {exc}")
            self.count(lane, "unknown")
        else:
            self.count(lane, self._retry(current.message, current.attempts, str(exc), current.now))
        lane.stop(exc)

    def _open_next(self, lane: _Lane) -> None:
        lane.current = next(lane.upcoming, None)
        self._open_envelope(lane)

    def _open_envelope(self, lane: _Lane) -> None:
        if lane.current is not None:
            try:
                lane.connection.open_envelope(self.envelope_from, lane.current.message.to_email)
            except ConnectionLost as exc:  # nothing of the message went out: it is released with the rest
                lane.stop(exc)

    def _ready(self, lane: _Lane) -> Iterator[Ready]:
        """The lane's messages that should go now, rendered; the others are settled on the way."""
        for position, message in enumerate(lane.messages):
            if isinstance(message, OwnSession):
                message = load_message(self.session, message.id)
            if message is None:
                continue
            now = self.services.now()
            if not still_wanted(message):
                self._finish(message, MessageStatus.SUPPRESSED, error="contact can no longer receive this email")
                self.count(lane, "suppressed")
                continue
            domain = message.to_email.rsplit("@", 1)[-1]
            campaign = message.campaign
            hold = self.throttle.hold_until(domain, message.campaign_id,
                                            campaign.rate_per_minute if campaign else None, now)
            if hold is not None:
                self._defer(message, hold, "held by a sending limit")
                self.count(lane, "deferred")
                continue
            try:
                rendered = message_content(self.services, message)
                header_id, raw = build_mime(self.services, message, rendered, now)
            except (TemplateError, ValueError) as exc:  # refused at sync time normally; never retried blindly
                self._finish(message, MessageStatus.FAILED, error=f"cannot render: {exc}")
                self.count(lane, "failed")
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
                emit_bounce(self.session, contact, message, kind="hard", detail=str(exc), now=now)
            self._finish(message, MessageStatus.BOUNCED, attempts=attempts, error=str(exc))
            return "bounced"
        self._finish(message, MessageStatus.FAILED, attempts=attempts, error=str(exc))
        return "failed"


def _connection_allowed(services):
    """A slot under the relay's connection cap (SMTP only; the outbox has no such limit)."""
    smtp = services.config.smtp
    if smtp is None:
        return nullcontext(True)
    return relay_slot(services.redis, f"{smtp.host}:{smtp.port}", limit=services.config.smtp_max_connections,
                      lease_seconds=services.config.lease_seconds)
