"""The send journal: how a lane records its progress cheaply and how an abandoned lane is settled.

Marking each message sending and then sent costs two updates of a wide, indexed row per message.
Instead each lane (one SMTP connection's share of a batch) owns one narrow row in send_lanes that
lists its messages in order. Before a message is handed to SMTP the lane writes that message's
position there: one small, autocommitted update that touches no index. When the lane ends, its
accepted messages are written as sent, with their events, in one statement, and the row goes.
"""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Callable
from datetime import datetime, timedelta
from select import select as select_sockets

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from app.models import Event, EventType, Message, MessageKind, MessageStatus, SendLane

from .composing import message_id_header

JOURNAL_REPLY = "250 (accepted before its worker stopped; recorded from the send journal)"


class LaneTakenOver(Exception):
    """The lane's lease ran out and the sweeper settled it: the lane must stop handing messages over."""


@dataclass(slots=True)
class Accepted:
    """A message the server took (250), recorded in memory until the lane's settlement."""

    message: object
    reply: str
    subject: str
    header: str
    sent_at: datetime
    attempts: int


def open_lanes(session: Session, chunks: list[list[int]], *, claim_id: int, now: datetime,
               lease_until: datetime) -> list[int]:
    """One journal row per lane, in the claiming transaction: a claimed message always has one."""
    worker = f"{socket.gethostname()}:{os.getpid()}"  # at call time: RQ forks after import
    return list(session.execute(insert(SendLane).returning(SendLane.id, sort_by_parameter_order=True), [
        {"message_ids": chunk, "claim": claim_id, "position": -1, "lease_until": lease_until, "worker": worker,
         "started_at": now, "updated_at": now} for chunk in chunks]).scalars())


# Prepared once per database connection and run through libpq directly: the driver's cursor
# machinery costs more CPU than the update itself, and this runs once per message.
HAND_OVER_NAME = b"nurture_send_lane_hand_over"
HAND_OVER_PG = (b"UPDATE send_lanes SET position = $1, updated_at = $2, lease_until = $2::timestamptz + $3::interval"
                b" WHERE id = $4")
SETTLE_LANE_PG = "DELETE FROM send_lanes WHERE id = %s RETURNING id"
# The accepted messages as sent and their email_sent events, in one statement; a message the
# sweeper settled meanwhile (no longer under this claim) is left as the sweeper wrote it.
RECORD_ACCEPTED_PG = """
WITH sent AS (
    UPDATE messages AS m
    SET status = 'sent', claim = NULL, sent_at = v.sent_at, smtp_response = v.reply,
        attempts = v.attempts, subject = v.subject, message_id_header = v.header
    FROM json_to_recordset(%(accepted)s::json)
         AS v(id integer, sent_at timestamptz, reply text, attempts integer, subject varchar, header varchar)
    WHERE m.id = v.id AND m.claim = %(claim)s
    RETURNING m.id, m.contact_id, m.campaign_id, m.step_id, m.kind, v.sent_at, v.subject)
INSERT INTO events (contact_id, type, occurred_at, message_id, campaign_id, step_id, properties,
                    is_machine, source, created_at)
SELECT contact_id, 'email_sent', sent_at, id, campaign_id, step_id, jsonb_build_object('subject', subject), false,
       'delivery', sent_at
FROM sent WHERE contact_id IS NOT NULL AND kind <> 'test'
"""
RELEASE_PG = """
UPDATE messages SET claim = NULL, queued_at = NULL, next_attempt_at = %s WHERE id = ANY(%s) AND claim = %s
"""


class Journal:
    """A lane's journal row, written on a connection of its own that commits every statement.

    On PostgreSQL that is the driver's connection in autocommit with synchronous_commit off (unless
    configured on): a killed worker loses nothing committed, only a database crash could lose the
    last moments of bookkeeping, and a commit costs a round trip instead of an fsync."""

    def __init__(self, services, lane_id: int, claim_id: int, message_ids: list[int]):
        self.services, self.lane_id, self.claim_id, self.message_ids = services, lane_id, claim_id, message_ids
        self.lease = timedelta(seconds=services.config.lease_seconds)
        self._lease_param = f"{services.config.lease_seconds} seconds".encode()
        self._lane_param = str(lane_id).encode()
        self._pooled = self.fast = self.connection = None
        if services.engine.dialect.name == "postgresql":
            self._pooled = services.engine.raw_connection()
            self.fast = self._pooled.driver_connection
            self.fast.autocommit = True
            if not services.config.delivery_sync_commit:
                self.fast.execute("SET synchronous_commit TO OFF")
            self._prepare_hand_over()
        else:
            self.connection = services.engine.connect()

    def _prepare_hand_over(self) -> None:
        from psycopg import pq

        result = self.fast.pgconn.prepare(HAND_OVER_NAME, HAND_OVER_PG)
        if result.status != pq.ExecStatus.COMMAND_OK and result.error_field(pq.DiagnosticField.SQLSTATE) != b"42P05":
            raise RuntimeError(f"cannot prepare the send journal's update: {result.error_message.decode()}")
        # 42P05: this pooled connection prepared it for an earlier lane.

    def hand_over(self, position: int, now: datetime) -> None:
        """Durable before the message reaches the server; each write also renews the lane's lease."""
        self.start_hand_over(position, now)
        self.finish_hand_over()

    def start_hand_over(self, position: int, now: datetime) -> None:
        """Send the journal write without waiting for it, so the lane can render the next message
        while the database works; `finish_hand_over` must follow before this message goes out."""
        if self.fast is None:
            self._taken = self.connection.execute(
                update(SendLane).where(SendLane.id == self.lane_id)
                .values(position=position, updated_at=now, lease_until=now + self.lease)).rowcount
            self.connection.commit()
            return
        pgconn = self.fast.pgconn
        pgconn.send_query_prepared(HAND_OVER_NAME, [
            str(position).encode(), now.isoformat().encode(), self._lease_param, self._lane_param])
        while pgconn.flush():  # a few dozen bytes: written at once unless the socket is full
            select_sockets([], [pgconn.socket], [])
        self._taken = None

    def finish_hand_over(self) -> None:
        """Wait until the journal write is committed; LaneTakenOver if the sweeper settled the lane."""
        if self.fast is not None:
            from psycopg import pq

            pgconn = self.fast.pgconn
            while pgconn.is_busy():  # waiting in select leaves the interpreter to the lane's other threads
                select_sockets([pgconn.socket], [], [])
                pgconn.consume_input()
            result = pgconn.get_result()
            while pgconn.get_result() is not None:  # drain to the end of this command
                pass
            if result is None or result.status != pq.ExecStatus.COMMAND_OK:
                raise psycopg_error(result)
            self._taken = result.command_tuples
        if not self._taken:
            raise LaneTakenOver(f"send lane {self.lane_id} was settled by the sweeper after its lease ran out")

    def settle(self, accepted: list[Accepted], *, release_rest: bool, not_before: datetime) -> int | None:
        """End the lane: accepted → sent with events; messages under its claim it never handed over
        are free again (if `release_rest`). One transaction. Returns how many went back to pending, or
        None if the sweeper had already settled the lane from its journal."""
        if self.fast is not None:
            with self.fast.transaction():
                if self.fast.execute(SETTLE_LANE_PG, (self.lane_id,)).fetchone() is None:
                    return None
                if accepted:
                    # One JSON text: the driver dumps arrays element by element in Python.
                    self.fast.execute(RECORD_ACCEPTED_PG, {"claim": self.claim_id, "accepted": json.dumps([
                        {"id": a.message.id, "sent_at": a.sent_at.isoformat(), "reply": a.reply, "attempts": a.attempts,
                         "subject": a.subject, "header": a.header} for a in accepted])})
                if not release_rest:
                    return 0
                return self.fast.execute(RELEASE_PG, (not_before, self.message_ids, self.claim_id)).rowcount or 0
        conn = self.connection
        if not conn.execute(delete(SendLane).where(SendLane.id == self.lane_id)).rowcount:
            conn.rollback()
            return None
        if accepted:
            still_claimed = set(conn.scalars(select(Message.id).where(
                Message.id.in_([a.message.id for a in accepted]), Message.claim == self.claim_id)))
            accepted = [a for a in accepted if a.message.id in still_claimed]
        for a in accepted:
            conn.execute(update(Message).where(Message.id == a.message.id).values(
                status=MessageStatus.SENT, claim=None, sent_at=a.sent_at, smtp_response=a.reply,
                attempts=a.attempts, subject=a.subject, message_id_header=a.header))
        events = [_sent_event(a.message, a.sent_at, a.subject) for a in accepted
                  if a.message.contact_id is not None and a.message.kind != MessageKind.TEST]
        if events:
            conn.execute(insert(Event), events)
        released = 0
        if release_rest:
            released = conn.execute(update(Message).where(
                Message.id.in_(self.message_ids), Message.claim == self.claim_id)
                .values(claim=None, queued_at=None, next_attempt_at=not_before)).rowcount or 0
        conn.commit()
        return released

    def close(self) -> None:
        if self._pooled is not None:
            self.fast.execute("RESET synchronous_commit")
            self.fast.autocommit = False
            self._pooled.close()
        if self.connection is not None:
            self.connection.close()
        self._pooled = self.fast = self.connection = None


def psycopg_error(result):
    import psycopg

    why = "no result" if result is None else result.error_message.decode(errors="replace")
    return psycopg.OperationalError(f"send journal update failed: {why}")


def _sent_event(message, sent_at: datetime, subject: str) -> dict:
    return {"contact_id": message.contact_id, "type": EventType.EMAIL_SENT, "occurred_at": sent_at,
            "message_id": message.id, "campaign_id": message.campaign_id, "step_id": message.step_id,
            "properties": {"subject": subject}, "is_machine": False, "source": "delivery", "created_at": sent_at}


def settle_abandoned_lanes(session: Session, *, now: datetime, mail_from: str,
                           subject_of: Callable[[int], str] = lambda message_id: "") -> dict[str, int]:
    """Lanes whose lease ran out (their worker died or hung): settle each from its journal.
    `subject_of(message_id)` gives the subject a recovered message went out with (rendered again).

    Messages still under the lane's claim before the journal's position were accepted (the lane
    only moves on after the server's answer), the one at it may have been accepted (unknown: never
    resent silently), and the ones after it never reached a server (free again)."""
    lanes = session.scalars(select(SendLane).where(SendLane.lease_until < now).order_by(SendLane.id)
                            .with_for_update(skip_locked=True)).all()
    counts = {"sent": 0, "unknown": 0, "released": 0}
    for lane in lanes:
        ids, position = [int(i) for i in lane.message_ids], lane.position
        accepted, in_flight, rest = ids[:max(position, 0)], ids[position:position + 1] if position >= 0 else [], \
            ids[max(position + 1, 0):]
        claimed = Message.claim == lane.claim
        if accepted:
            sent = session.execute(select(Message.id, Message.public_id, Message.contact_id, Message.campaign_id,
                                          Message.step_id, Message.kind).where(Message.id.in_(accepted), claimed)).all()
            subjects = {row.id: subject_of(row.id)[:500] for row in sent}
            for row in sent:
                session.execute(update(Message).where(Message.id == row.id).values(
                    status=MessageStatus.SENT, claim=None, sent_at=lane.updated_at,
                    smtp_response=JOURNAL_REPLY, attempts=Message.attempts + 1, subject=subjects[row.id],
                    message_id_header=message_id_header(row.public_id, mail_from)))
            events = [_sent_event(row, lane.updated_at, subjects[row.id]) for row in sent
                      if row.contact_id is not None and row.kind != MessageKind.TEST]
            if events:
                session.execute(insert(Event), events)
            counts["sent"] += len(sent)
        if in_flight:
            counts["unknown"] += session.execute(update(Message).where(Message.id.in_(in_flight), claimed).values(
                status=MessageStatus.UNKNOWN, claim=None, attempts=Message.attempts + 1,
                error="the worker stopped while handing this message over; not resent automatically")).rowcount or 0
        if rest:
            counts["released"] += session.execute(update(Message).where(Message.id.in_(rest), claimed).values(
                claim=None, queued_at=None)).rowcount or 0
        session.delete(lane)
    session.flush()
    return counts

