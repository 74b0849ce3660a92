"""Page views at a human pace. A contact's site token (?nt=) is a bearer credential: whoever holds
it can report page views as that contact, so the snippet's beacons are judged twice.

- At the door (the fast path, before anything is queued): beacons per token are limited to a burst
  and an hourly rate (`BEACON_LIMITS`, counted in Redis by app.infra.counters). A beacon over either
  is answered 429 with Retry-After and records nothing; the snippet sends with sendBeacon, which
  never retries, so a refused beacon costs a person at most a view that could not have been theirs.
- In the drain: views are kept, but those beyond what a person reads are marked machine (stored and
  shown, never scored): more than `PAGES_PER_MINUTE` views of one contact arriving within a minute,
  or views arriving within a minute that together claim more seconds on the page than the minute
  held (with room for two screens side by side).

Views reported by the marketer's own server (POST /api/v1/pageviews, trusted by its key, possibly
a backfill) are not judged here.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.infra.id_lists import id_among
from app.models import Event, EventType

BEACON_LIMITS = ((10, 10), (120, 3600))   # (beacons, per seconds) for one token: a burst, and an hour
PACE_WINDOW = timedelta(seconds=60)
PAGES_PER_MINUTE = 10
SCREENS = 2                                # seconds claimed within a minute may add up to two minutes
TOO_MANY = "more pages a minute than a person reads"
TOO_LONG = "more seconds on pages than the minute held"


def judge(previous: list[tuple[datetime, float]], fresh: list[tuple[datetime, float]]) -> list[str | None]:
    """Pure: for each fresh view (arrival, seconds on the page), in arrival order, the reason it is a
    machine's, or None. `previous`: the contact's human views that arrived within the window before."""
    window = sorted(previous)
    verdicts: list[str | None] = []
    limit = SCREENS * PACE_WINDOW.total_seconds()
    for at, seconds in fresh:
        recent = [(t, s) for t, s in window if at - PACE_WINDOW < t <= at]
        claimed = [s for _, s in recent] + [seconds]
        if len(recent) >= PAGES_PER_MINUTE:
            verdicts.append(TOO_MANY)
        elif sum(claimed) - max(claimed) > limit:  # the longest may have begun before the minute did
            verdicts.append(TOO_LONG)
        else:
            verdicts.append(None)
            window.append((at, seconds))
    return verdicts


def mark_beyond_human_pace(session: Session, rows: list[dict[str, Any]]) -> None:
    """Mark the page-view rows (of one batch, not yet inserted) that go beyond a human pace, given the
    human views already stored for their contacts. A row already stored (a resent beacon) is skipped."""
    human = [r for r in rows if not r["is_machine"]]
    if not human:
        return
    since = min(r["occurred_at"] for r in human) - PACE_WINDOW
    previous: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    stored: set[str] = set()
    for contact_id, occurred_at, properties, key in session.execute(
            select(Event.contact_id, Event.occurred_at, Event.properties, Event.dedupe_key).where(
                id_among(session, Event.contact_id, sorted({r["contact_id"] for r in human})),
                Event.type == EventType.PAGE_VIEW,
                Event.is_machine.is_(False), Event.occurred_at >= since)):
        previous[contact_id].append((occurred_at, _seconds(properties)))
        stored.add(key)
    by_contact: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(human, key=lambda r: r["occurred_at"]):
        if row["dedupe_key"] not in stored:
            stored.add(row["dedupe_key"])
            by_contact[row["contact_id"]].append(row)
    for contact_id, fresh in by_contact.items():
        verdicts = judge(previous[contact_id], [(r["occurred_at"], _seconds(r["properties"])) for r in fresh])
        for row, reason in zip(fresh, verdicts):
            if reason:
                row["is_machine"], row["machine_reason"] = True, reason


def _seconds(properties: dict | None) -> float:
    value = (properties or {}).get("seconds")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
