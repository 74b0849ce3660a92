"""Re-scoring every contact after the agreement changes (and daily, as points decay).

Scores are a pure function of a contact's fields, its events and the agreement, so re-scoring is
deterministic: the same inputs give the same score and reasons as the per-event refresh. Contacts
go in chunks of ids: one query for the chunk's contacts, one for all their events, one bulk UPDATE.
On PostgreSQL the chunk's rows are locked while it is scored, so an event recorded meanwhile waits
and then re-scores on top (no lost update). Contacts that now meet the agreement are handed off by
the `hand_off` the caller passes (handoff.hand_off.hand_off_by_id), so that re-scoring alone never
needs the handoff room.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.models import NURTURE_STAGES, Contact, Event
from app.infra import locks

from app.domain.qualification.agreement import Agreement, agreement_data, load_agreement
from app.domain.contacts.rules import CONTACT_FIELDS
from app.domain.qualification.qualify import qualifying_reason, score_values
from app.domain.qualification.scoring import ScoredEvent
from app.domain.settings import get_setting, put_setting

STORED_FIELDS = tuple(f for f in CONTACT_FIELDS if f not in ("seniority", "region"))
CHUNK = 1000
HandOff = Callable[[Session, int, str, datetime, str], int]
"""Hands one contact off: (session, contact id, reason, now, actor) → the handoff's id."""


@dataclass
class RescoreStats:
    contacts: int = 0
    changed: int = 0
    handed_off: list[int] = field(default_factory=list)
    seconds: float = 0.0
    handoff_seconds: float = 0.0  # of which: handing off the contacts that now qualify

    def as_dict(self) -> dict:
        return {"contacts": self.contacts, "changed": self.changed, "handed_off": len(self.handed_off),
                "seconds": round(self.seconds, 3)}


def fingerprint(session: Session) -> str:
    """A digest of everything scoring and qualification read: a change means every score may change."""
    data = agreement_data(session)
    relevant = {k: data[k] for k in ("qualification", "scoring", "fit")}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def rescore_chunk(session: Session, ids: list[int], *, now: datetime, agreement: Agreement | None = None,
                  hand_off: HandOff | None = None, triggers: Mapping[int, Sequence[tuple[str, str | None]]] | None = None,
                  activity: Mapping[int, datetime] | None = None) -> RescoreStats:
    """Re-score these contacts with three statements, then hand off (if given `hand_off`) those that now qualify: by the
    threshold, or by a fast-track rule on one of the contact's `triggers` (new events' type and URL).
    `activity` (the latest new event per contact) moves last_activity_at forward in the same UPDATE."""
    agreement = agreement or load_agreement(session)
    columns = [Contact.id, Contact.stage, Contact.score, Contact.grade, Contact.score_reset_at, Contact.scored_at,
               Contact.last_activity_at, Contact.fields,
               *(getattr(Contact, f) for f in STORED_FIELDS if f != "fields")]
    query = locks.contacts_for_scoring(session, select(*columns).where(Contact.id.in_(ids)).order_by(Contact.id))
    contacts = session.execute(query).mappings().all()
    events: dict[int, list[ScoredEvent]] = defaultdict(list)
    for row in session.execute(select(Event.contact_id, Event.id, Event.type, Event.occurred_at, Event.url,
                                      Event.campaign_id).where(Event.contact_id.in_(ids),
                                                               Event.is_machine.is_(False))):
        events[row[0]].append(ScoredEvent(row[1], row[2], row[3], row[4], row[5], False))
    stats, updates, qualified = RescoreStats(contacts=len(contacts)), [], []
    threshold = agreement.qualification
    for c in contacts:
        fields = {f: c[f] for f in STORED_FIELDS}
        fields["fields"] = dict(c["fields"] or {})
        # Never as of an earlier moment than the contact was last scored (a worker whose clock lags
        # must not drop the points of an event a web process just scored).
        at = max(now, c["scored_at"]) if c["scored_at"] else now
        values = score_values(agreement, fields, events.get(c["id"], ()), now=at, reset_at=c["score_reset_at"])
        stats.changed += (values["score"], values["grade"]) != (c["score"], c["grade"])
        if activity and c["id"] in activity:
            values["last_activity_at"] = max(filter(None, (c["last_activity_at"], activity[c["id"]])))
        updates.append({"id": c["id"], **values})
        if hand_off and c["stage"] in NURTURE_STAGES:
            reason = qualifying_reason(threshold, values["score"], values["grade"], (triggers or {}).get(c["id"], ()))
            if reason:
                qualified.append((c["id"], reason))
    if updates:
        session.execute(update(Contact), updates)
    started = time.perf_counter()
    for contact_id, reason in qualified:
        actor = "rescore" if triggers is None else "event"
        stats.handed_off.append(hand_off(session, contact_id, reason, now, actor))
    stats.handoff_seconds = time.perf_counter() - started
    return stats


def rescore_range(session: Session, first_id: int, last_id: int, *, now: datetime, chunk: int = CHUNK,
                  hand_off: HandOff | None = None, progress: Callable[[RescoreStats], None] | None = None) -> RescoreStats:
    """Every contact with first_id ≤ id ≤ last_id, a chunk per transaction."""
    started = time.perf_counter()
    total = RescoreStats()
    after = first_id - 1
    while True:
        ids = session.scalars(select(Contact.id).where(Contact.id > after, Contact.id <= last_id)
                              .order_by(Contact.id).limit(chunk)).all()
        if not ids:
            break
        stats = rescore_chunk(session, list(ids), now=now, hand_off=hand_off)
        session.commit()  # the agreement cache goes with the commit; it is reloaded for the next chunk
        session.expunge_all()
        total.contacts += stats.contacts
        total.changed += stats.changed
        total.handed_off += stats.handed_off
        total.handoff_seconds += stats.handoff_seconds
        after = ids[-1]
        if progress:
            progress(total)
    total.seconds = time.perf_counter() - started
    return total


def rescore_all(session: Session, *, now: datetime, chunk: int = CHUNK, hand_off: HandOff | None = None,
                progress: Callable[[RescoreStats], None] | None = None) -> RescoreStats:
    first, last = session.execute(select(func.min(Contact.id), func.max(Contact.id))).one()
    if first is None:
        return RescoreStats()
    stats = rescore_range(session, first, last, now=now, chunk=chunk, hand_off=hand_off, progress=progress)
    mark_rescored(session, now=now)
    session.commit()
    return stats


def id_ranges(session: Session, size: int) -> list[tuple[int, int]]:
    """Contact id ranges of about `size` contacts each: one RQ job per range."""
    ids = session.scalars(select(Contact.id).order_by(Contact.id)).all()
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def mark_rescored(session: Session, *, now: datetime, digest: str | None = None) -> None:
    put_setting(session, "rescore_state", {"fingerprint": digest or fingerprint(session), "at": now.isoformat()}, now)


def rescore_due(session: Session, *, now: datetime, every_hours: float = 24) -> str | None:
    """Why a full re-score is due now (the agreement changed, or a day of decay passed), or None."""
    state = get_setting(session, "rescore_state")
    digest = fingerprint(session)
    if state.get("fingerprint") != digest:
        return "the agreement changed" if state.get("fingerprint") else "first re-score"
    last = datetime.fromisoformat(state["at"])
    if (now - last).total_seconds() >= every_hours * 3600:
        return "daily re-score (points decay)"
    return None
