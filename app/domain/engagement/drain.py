"""Draining the hit buffer: a drainer claims a batch of hits atomically (so a crash loses nothing),
has it recorded (engagement.recording: INSERT … ON CONFLICT DO NOTHING on `dedupe_key =
"hit:<id>"`, so a retried batch writes nothing twice, then the reactions), and only then forgets the
claimed batch. If the database is down the batch goes back to the head of the queue and waits; a
batch whose drainer died is put back after its lease. A hit that fails on its own is kept on a
dead-letter list with the error, never dropped."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app.infra import hit_buffer

from app.domain.engagement.recording import record_hits

log = logging.getLogger(__name__)

# Reactions (scoring, autoresponders) run once per contact per batch and cost far more than the
# insert, so a backlog with several hits per contact drains ~3x faster in batches of 5000 than 1000.
BATCH_SIZE = 5000


@dataclass
class DrainResult:
    hits: int = 0
    written: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead: int = 0
    batches: int = 0
    released: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v or k in ("hits", "written")}


def drain(services, *, batch_size: int = BATCH_SIZE, max_batches: int | None = None,
          max_seconds: float | None = None) -> DrainResult:
    """Write queued hits to the database until the queue is empty (or a limit is reached).

    Database trouble stops the drain with the batch put back (`error` says why); nothing is lost.
    """
    redis = services.redis
    result = DrainResult()
    started = time.monotonic()
    result.released = hit_buffer.recover_stale(redis, now=time.time())
    while max_batches is None or result.batches < max_batches:
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
        key, items = hit_buffer.claim(redis, batch_size, time.time())
        if not items:
            break
        result.batches += 1
        try:
            outcome = _write_with_retries(services, items)
        except (OperationalError, InterfaceError) as exc:  # the database is down or slow: wait, lose nothing
            hit_buffer.release(redis, key)
            result.error = f"database unavailable: {getattr(exc, 'orig', exc)}"
            log.warning("tracking drain paused, %d hits put back: %s", len(items), result.error)
            break
        except Exception as exc:  # a bug with one hit must not block the others: write one by one
            log.exception("tracking batch failed; writing its hits one at a time")
            outcome = _one_by_one(services, redis, items)
            if outcome is None:
                hit_buffer.release(redis, key)
                result.error = f"database unavailable: {exc}"
                break
        hit_buffer.ack(redis, key)
        result.hits += len(items)
        for name in ("written", "duplicates", "skipped", "dead"):
            setattr(result, name, getattr(result, name) + outcome.get(name, 0))
    return result


TRANSIENT = ("40P01", "40001", "55P03")  # deadlock, serialization failure, lock not available


def _write_with_retries(services, items, attempts: int = 5) -> dict[str, int]:
    """Concurrent drainers may deadlock on a contact both are scoring: that batch is simply retried."""
    for attempt in range(attempts):
        try:
            return record_hits(services, items)
        except DBAPIError as exc:
            code = getattr(getattr(exc, "orig", None), "sqlstate", None)
            if code not in TRANSIENT or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _one_by_one(services, redis, items: Iterable[bytes]) -> dict[str, int] | None:
    totals = {"written": 0, "duplicates": 0, "skipped": 0, "dead": 0}
    for item in items:
        try:
            outcome = record_hits(services, [item])
        except (OperationalError, InterfaceError):
            return None
        except Exception as exc:
            hit_buffer.bury(redis, item, repr(exc))
            totals["dead"] += 1
            continue
        for name, value in outcome.items():
            totals[name] = totals.get(name, 0) + value
    return totals


def periodic_drain(services, *, max_seconds: float = 10) -> dict[str, Any]:
    """The scheduler's safety net: drain what is queued; Redis or database trouble is reported, not raised."""
    try:
        return drain(services, max_seconds=max_seconds).as_dict()
    except Exception as exc:  # Redis away: the hits wait in Redis, or were spooled to the database
        log.warning("tracking drain skipped: %s", exc)
        return {"error": str(exc)[:200]}
