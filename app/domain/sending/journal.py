"""The send journal: how a lane records its progress cheaply and how an abandoned lane is settled.

Marking each message sending and then sent costs two updates of a wide, indexed row per message.
Instead each lane (one SMTP connection's share of a batch) owns one narrow row in send_lanes that
lists its messages in order. A job drives its lanes in rounds: before a round's messages are
handed to SMTP, one small autocommitted update that touches no index writes each lane's position
(the message it is handing over). When the job ends, its accepted messages are written as sent,
with their events, in one statement, and the rows go.
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

from app.domain.messages.composing import message_id_header

JOURNAL_REPLY = "250 (accepted before its worker stopped; recorded from the send journal)"


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
# machinery costs more CPU than the update itself, and this runs once per round of messages.
HAND_OVER_NAME = b"nurture_send_lanes_hand_over"
HAND_OVER_PG = (b"UPDATE send_lanes SET position = ($2::int[])[array_position($1::int[], id)], updated_at = $3,"
                b" lease_until = $3::timestamptz + $4::interval WHERE id = ANY($1::int[])")
SETTLE_LANES_PG = "DELETE FROM send_lanes WHERE id = ANY(%s) RETURNING id"
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


def _int_array(values) -> bytes:
    return ("{" + ",".join(map(str, values)) + "}").encode()


class Journal:
    """The journal rows of one send job's lanes, written on a connection of its own that commits
    every statement. One write records where every lane stands, so lanes that hand their messages
    over in the same round share it: one commit per round, however many connections.

    On PostgreSQL that is the driver's connection in autocommit with synchronous_commit off (unless
    configured on): a killed worker loses nothing committed, only a database crash could lose the
    last moments of bookkeeping, and a commit costs a round trip instead of an fsync."""

    def __init__(self, services, claim_id: int, lanes: dict[int, list[int]]):
        self.services, self.claim_id, self.lanes = services, claim_id, lanes
        self.positions = {lane_id: -1 for lane_id in lanes}  # where each lane stands, as last written
        self.live = set(lanes)  # not settled by the sweeper (as far as the last write knows)
        self.lease = timedelta(seconds=services.config.lease_seconds)
        self._lease_param = f"{services.config.lease_seconds} seconds".encode()
        self._pooled = self.fast = self.connection = None
        self._written: list[int] = []
        self._found: set[int] = set()
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
        # 42P05: this pooled connection prepared it for an earlier job.

    def all_handled(self, lane_id: int) -> None:
        """Every message of the lane reached an outcome. Its position moves past the end with the
        next write, so a worker killed while other lanes go on leaves this lane's last accepted
        message sent, not unknown."""
        self.positions[lane_id] = len(self.lanes[lane_id])

    def start_hand_over(self, positions: dict[int, int], now: datetime) -> None:
        """Send the journal write without waiting for it, so the job can render its next messages
        while the database works; `finish_hand_over` must follow before these messages go out.
        Every live lane's row is written, which renews its lease too."""
        self.positions.update(positions)
        lanes = self._written = sorted(self.live)
        if self.fast is None:
            self._found = {lane_id for lane_id in lanes if self.connection.execute(
                update(SendLane).where(SendLane.id == lane_id).values(
                    position=self.positions[lane_id], updated_at=now, lease_until=now + self.lease)).rowcount}
            self.connection.commit()
            return
        pgconn = self.fast.pgconn
        pgconn.send_query_prepared(HAND_OVER_NAME, [
            _int_array(lanes), _int_array(self.positions[lane_id] for lane_id in lanes), now.isoformat().encode(),
            self._lease_param])
        while pgconn.flush():  # a few dozen bytes: written at once unless the socket is full
            select_sockets([], [pgconn.socket], [])

    def finish_hand_over(self) -> set[int]:
        """Wait until the journal write is committed. Returns the lanes found settled by the
        sweeper (their lease ran out): they must hand nothing more over."""
        if self.fast is None:
            still_there = self._found
        else:
            from psycopg import pq

            pgconn = self.fast.pgconn
            while pgconn.is_busy():  # waiting in select leaves the interpreter to other threads
                select_sockets([pgconn.socket], [], [])
                pgconn.consume_input()
            result = pgconn.get_result()
            while pgconn.get_result() is not None:  # drain to the end of this command
                pass
            if result is None or result.status != pq.ExecStatus.COMMAND_OK:
                raise psycopg_error(result)
            if result.command_tuples == len(self._written):
                return set()
            still_there = {row[0] for row in self.fast.execute(
                "SELECT id FROM send_lanes WHERE id = ANY(%s)", (self._written,))}
        taken_over = set(self._written) - still_there
        self.live -= taken_over
        return taken_over

    def settle(self, accepted: list[Accepted], *, release: list[int], not_before: datetime) -> int:
        """End the job's lanes in one transaction: accepted → sent with events; the messages of the
        `release` lanes still under the claim (never handed over) are free again. Lanes the sweeper
        settled meanwhile keep what it wrote. Returns how many messages went back to pending."""
        lanes = list(self.lanes)
        if self.fast is not None:
            with self.fast.transaction():
                live = {row[0] for row in self.fast.execute(SETTLE_LANES_PG, (lanes,))}
                if accepted:
                    # One JSON text: the driver dumps arrays element by element in Python.
                    self.fast.execute(RECORD_ACCEPTED_PG, {"claim": self.claim_id, "accepted": json.dumps([
                        {"id": a.message.id, "sent_at": a.sent_at.isoformat(), "reply": a.reply, "attempts": a.attempts,
                         "subject": a.subject, "header": a.header} for a in accepted])})
                rest = self._unsent(release, live)
                if not rest:
                    return 0
                return self.fast.execute(RELEASE_PG, (not_before, rest, self.claim_id)).rowcount or 0
        conn = self.connection
        live = set(conn.scalars(select(SendLane.id).where(SendLane.id.in_(lanes))))
        conn.execute(delete(SendLane).where(SendLane.id.in_(lanes)))
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
        rest = self._unsent(release, live)
        if rest:
            released = conn.execute(update(Message).where(Message.id.in_(rest), Message.claim == self.claim_id)
                                    .values(claim=None, queued_at=None, next_attempt_at=not_before)).rowcount or 0
        conn.commit()
        return released

    def _unsent(self, release: list[int], live: set[int]) -> list[int]:
        """The messages of the lanes to release that the sweeper has not settled (it released
        those lanes' rest itself); only the ones still under the claim are freed."""
        return [i for lane_id in release if lane_id in live for i in self.lanes[lane_id]]

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

