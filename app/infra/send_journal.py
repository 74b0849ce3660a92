"""The send journal's own connection and its statements: a lane's hand-over write, and the settling of
a job's lanes (accepted messages recorded as sent with their events, the rest released).

On PostgreSQL the journal writes through the driver's connection in autocommit, with
synchronous_commit off (unless configured on): a killed worker loses nothing committed, only a
database crash could lose the last moments of bookkeeping, and a commit costs a round trip instead
of an fsync. The hand-over write goes through libpq directly. Elsewhere a Core connection of its
own, committed after every write.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from select import select as select_sockets
from typing import Any, Sequence

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.engine import Connection

from app.models import Event, EventType, Message, MessageKind, MessageStatus, SendLane

# Prepared once per database connection and run through libpq directly: the driver's cursor
# machinery costs more CPU than the update itself, and this runs once per round of messages.
HAND_OVER_NAME = b"nurture_send_lanes_hand_over"
HAND_OVER_PG = (b"UPDATE send_lanes SET position = ($2::int[])[array_position($1::int[], id)], updated_at = $3,"
                b" lease_until = $3::timestamptz + $4::interval WHERE id = ANY($1::int[])")
SETTLE_LANES_PG = "DELETE FROM send_lanes WHERE id = ANY(%s) RETURNING id"
# The accepted messages as sent and their email_sent events, in one statement; a message the
# sweeper settled meanwhile (no longer under this claim) is left as the sweeper wrote it. The
# events are the ones sent_event describes.
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


@dataclass(slots=True)
class JournalConnection:
    """A send job's journal connection: the driver's own on PostgreSQL (`fast`, with the pool's
    connection it came from), a Core connection elsewhere. Remembers the lanes of the last write."""

    lease: timedelta
    lease_param: bytes
    pooled: Any = None
    fast: Any = None
    core: Connection | None = None
    written: list[int] = field(default_factory=list)
    found: set[int] = field(default_factory=set)


def connect(engine: Engine, *, lease_seconds: int, sync_commit: bool) -> JournalConnection:
    """A connection that commits every statement, for one send job's journal."""
    journal = JournalConnection(timedelta(seconds=lease_seconds), f"{lease_seconds} seconds".encode())
    if engine.dialect.name == "postgresql":
        journal.pooled = engine.raw_connection()
        journal.fast = journal.pooled.driver_connection
        journal.fast.autocommit = True
        if not sync_commit:
            journal.fast.execute("SET synchronous_commit TO OFF")
        _prepare_hand_over(journal.fast)
    else:
        journal.core = engine.connect()
    return journal


def _prepare_hand_over(fast) -> None:
    from psycopg import pq

    result = fast.pgconn.prepare(HAND_OVER_NAME, HAND_OVER_PG)
    if result.status != pq.ExecStatus.COMMAND_OK and result.error_field(pq.DiagnosticField.SQLSTATE) != b"42P05":
        raise RuntimeError(f"cannot prepare the send journal's update: {result.error_message.decode()}")
    # 42P05: this pooled connection prepared it for an earlier job.


def _int_array(values) -> bytes:
    return ("{" + ",".join(map(str, values)) + "}").encode()


def start_hand_over(journal: JournalConnection, lanes: list[int], positions: Sequence[int], now: datetime) -> None:
    """Write each lane's position (positions[i] for lanes[i]) and renew its lease. On PostgreSQL the
    write is sent without waiting for it; `finish_hand_over` must follow before these messages go out."""
    journal.written = lanes
    if journal.fast is None:
        conn = journal.core
        journal.found = {lane_id for lane_id, position in zip(lanes, positions) if conn.execute(
            update(SendLane).where(SendLane.id == lane_id).values(
                position=position, updated_at=now, lease_until=now + journal.lease)).rowcount}
        conn.commit()
        return
    pgconn = journal.fast.pgconn
    pgconn.send_query_prepared(HAND_OVER_NAME, [
        _int_array(lanes), _int_array(positions), now.isoformat().encode(), journal.lease_param])
    while pgconn.flush():  # a few dozen bytes: written at once unless the socket is full
        select_sockets([], [pgconn.socket], [])


def finish_hand_over(journal: JournalConnection) -> set[int]:
    """Wait until the last write is committed. Returns the lanes it found gone (settled by the
    sweeper when their lease ran out)."""
    if journal.fast is None:
        still_there = journal.found
    else:
        from psycopg import pq

        pgconn = journal.fast.pgconn
        while pgconn.is_busy():  # waiting in select leaves the interpreter to other threads
            select_sockets([pgconn.socket], [], [])
            pgconn.consume_input()
        result = pgconn.get_result()
        while pgconn.get_result() is not None:  # drain to the end of this command
            pass
        if result is None or result.status != pq.ExecStatus.COMMAND_OK:
            raise psycopg_error(result)
        if result.command_tuples == len(journal.written):
            return set()
        still_there = {row[0] for row in journal.fast.execute(
            "SELECT id FROM send_lanes WHERE id = ANY(%s)", (journal.written,))}
    return set(journal.written) - still_there


def psycopg_error(result):
    import psycopg

    why = "no result" if result is None else result.error_message.decode(errors="replace")
    return psycopg.OperationalError(f"send journal update failed: {why}")


def settle(journal: JournalConnection, claim_id: int, lanes: dict[int, list[int]], accepted: Sequence[Any], *,
           release: list[int], not_before: datetime) -> int:
    """End these lanes (lane id → its message ids) in one transaction: `accepted` → sent with
    events; the messages of the `release` lanes still under the claim are free again. Lanes the
    sweeper settled meanwhile keep what it wrote. Returns how many messages went back to pending.
    An accepted entry has message (id, contact_id, campaign_id, step_id, kind), reply, subject,
    header, sent_at and attempts."""
    lane_ids = list(lanes)
    if journal.fast is not None:
        fast = journal.fast
        with fast.transaction():
            live = {row[0] for row in fast.execute(SETTLE_LANES_PG, (lane_ids,))}
            if accepted:
                # One JSON text: the driver dumps arrays element by element in Python.
                fast.execute(RECORD_ACCEPTED_PG, {"claim": claim_id, "accepted": json.dumps([
                    {"id": a.message.id, "sent_at": a.sent_at.isoformat(), "reply": a.reply, "attempts": a.attempts,
                     "subject": a.subject, "header": a.header} for a in accepted])})
            rest = _unsent(lanes, release, live)
            if not rest:
                return 0
            return fast.execute(RELEASE_PG, (not_before, rest, claim_id)).rowcount or 0
    conn = journal.core
    live = set(conn.scalars(select(SendLane.id).where(SendLane.id.in_(lane_ids))))
    conn.execute(delete(SendLane).where(SendLane.id.in_(lane_ids)))
    if accepted:
        still_claimed = set(conn.scalars(select(Message.id).where(
            Message.id.in_([a.message.id for a in accepted]), Message.claim == claim_id)))
        accepted = [a for a in accepted if a.message.id in still_claimed]
    for a in accepted:
        conn.execute(update(Message).where(Message.id == a.message.id).values(
            status=MessageStatus.SENT, claim=None, sent_at=a.sent_at, smtp_response=a.reply,
            attempts=a.attempts, subject=a.subject, message_id_header=a.header))
    events = [sent_event(a.message, a.sent_at, a.subject) for a in accepted
              if a.message.contact_id is not None and a.message.kind != MessageKind.TEST]
    if events:
        conn.execute(insert(Event), events)
    released = 0
    rest = _unsent(lanes, release, live)
    if rest:
        released = conn.execute(update(Message).where(Message.id.in_(rest), Message.claim == claim_id)
                                .values(claim=None, queued_at=None, next_attempt_at=not_before)).rowcount or 0
    conn.commit()
    return released


def _unsent(lanes: dict[int, list[int]], release: list[int], live: set[int]) -> list[int]:
    """The messages of the lanes to release that the sweeper has not settled (it released
    those lanes' rest itself); only the ones still under the claim are freed."""
    return [i for lane_id in release if lane_id in live for i in lanes[lane_id]]


def sent_event(message, sent_at: datetime, subject: str) -> dict:
    """The email_sent event row of a message that went out (the one RECORD_ACCEPTED_PG writes)."""
    return {"contact_id": message.contact_id, "type": EventType.EMAIL_SENT, "occurred_at": sent_at,
            "message_id": message.id, "campaign_id": message.campaign_id, "step_id": message.step_id,
            "properties": {"subject": subject}, "is_machine": False, "source": "delivery", "created_at": sent_at}


def close(journal: JournalConnection) -> None:
    """Give the connection back (the driver's one as the pool lent it)."""
    if journal.pooled is not None:
        journal.fast.execute("RESET synchronous_commit")
        journal.fast.autocommit = False
        journal.pooled.close()
    if journal.core is not None:
        journal.core.close()
    journal.pooled = journal.fast = journal.core = None
