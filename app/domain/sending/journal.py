"""The send journal: how a lane records its progress cheaply and how an abandoned lane is settled.

Marking each message sending and then sent costs two updates of a wide, indexed row per message.
Instead each lane (one SMTP connection's share of a batch) owns one narrow row in send_lanes that
lists its messages in order. A job drives its lanes in rounds: before a round's messages are
handed to SMTP, one small autocommitted update that touches no index writes each lane's position
(the message it is handing over). When the job ends, its accepted messages are written as sent,
with their events, in one statement, and the rows go.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Callable
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.models import Event, Message, MessageKind, MessageStatus, SendLane
from app.infra import send_journal

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


class Journal:
    """The journal rows of one send job's lanes, written on a connection of its own that commits
    every statement. One write records where every lane stands, so lanes that hand their messages
    over in the same round share it: one commit per round, however many connections. The
    connection and its statements are app.infra.send_journal's."""

    def __init__(self, services, claim_id: int, lanes: dict[int, list[int]]):
        self.services, self.claim_id, self.lanes = services, claim_id, lanes
        self.positions = {lane_id: -1 for lane_id in lanes}  # where each lane stands, as last written
        self.live = set(lanes)  # not settled by the sweeper (as far as the last write knows)
        self.store = send_journal.connect(services.engine, lease_seconds=services.config.lease_seconds,
                                          sync_commit=services.config.delivery_sync_commit)

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
        lanes = sorted(self.live)
        send_journal.start_hand_over(self.store, lanes, [self.positions[lane_id] for lane_id in lanes], now)

    def finish_hand_over(self) -> set[int]:
        """Wait until the journal write is committed. Returns the lanes found settled by the
        sweeper (their lease ran out): they must hand nothing more over."""
        taken_over = send_journal.finish_hand_over(self.store)
        self.live -= taken_over
        return taken_over

    def settle(self, accepted: list[Accepted], *, release: list[int], not_before: datetime) -> int:
        """End the job's lanes in one transaction: accepted → sent with events; the messages of the
        `release` lanes still under the claim (never handed over) are free again. Lanes the sweeper
        settled meanwhile keep what it wrote. Returns how many messages went back to pending."""
        return send_journal.settle(self.store, self.claim_id, self.lanes, accepted, release=release,
                                   not_before=not_before)

    def close(self) -> None:
        send_journal.close(self.store)


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
            events = [send_journal.sent_event(row, lane.updated_at, subjects[row.id]) for row in sent
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

