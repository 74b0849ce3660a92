"""The buffered event path: hits go to a Redis list in one round trip; a drainer writes them in batches.

A hit is a small JSON list with its own random id. The drainer moves a batch atomically from the
list to a claimed list (so a crash loses nothing), writes it with INSERT … ON CONFLICT DO NOTHING
on `dedupe_key = "hit:<id>"` (so a retried batch writes nothing twice), commits, runs the reactions
(scoring, autoresponders, exit goals) for the contacts touched, and only then forgets the claimed
list. If the database is down the batch goes back to the head of the list and waits; a batch whose
drainer died is put back after its lease. A hit that fails on its own is kept on a dead-letter list
with the error, never dropped.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger(__name__)

QUEUE = "nurture:hits"
CLAIMS = "nurture:hits:claims"           # sorted set: claimed list key → claim time
CLAIMED = "nurture:hits:claimed:"        # + batch id: the hits one drainer is writing
DEAD = "nurture:hits:dead"               # hits that failed on their own, with the error
DRAIN_FLAG = "nurture:hits:drain-queued"  # set while a drain job is queued or running
DRAIN_JOB = "workers.jobs.drain_tracking"
# Reactions (scoring, autoresponders) run once per contact per batch and cost far more than the
# insert, so a backlog with several hits per contact drains ~3x faster in batches of 5000 than 1000.
BATCH_SIZE = 5000
LEASE_SECONDS = 120

# Hit kinds
OPEN, CLICK, QR_SCAN, PAGE_VIEW = "o", "c", "q", "v"

_CLAIM = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then return items end
redis.call('LTRIM', KEYS[1], #items, -1)
redis.call('RPUSH', KEYS[2], unpack(items))
redis.call('ZADD', KEYS[3], ARGV[2], KEYS[2])
return items
"""
_RELEASE = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i = #items, 1, -1 do redis.call('LPUSH', KEYS[2], items[i]) end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], KEYS[1])
return #items
"""


def new_hit_id() -> str:
    """96 random bits: unique per hit, so the same hit written twice is one row."""
    return secrets.token_hex(12)


def encode(kind: str, public_id: str, *, at: float, link: int | None = None, method: str = "GET",
           ip: str | None = None, user_agent: str | None = None, extra: dict | None = None,
           hit_id: str | None = None) -> str:
    return json.dumps([hit_id or new_hit_id(), kind, public_id, link, method, at, ip, (user_agent or "")[:1000],
                       extra], separators=(",", ":"))


@dataclass
class Hit:
    id: str
    kind: str
    public_id: str
    link: int | None
    method: str
    at: datetime
    ip: str | None
    user_agent: str | None
    extra: dict = field(default_factory=dict)
    raw: str = ""

    @property
    def dedupe_key(self) -> str:
        return f"hit:{self.id}"


def decode(raw: str | bytes) -> Hit:
    """A hit from its JSON; ValueError for anything malformed."""
    try:
        hit_id, kind, public_id, link, method, at, ip, ua, extra = json.loads(raw)
        moment = datetime.fromtimestamp(float(at), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"malformed hit: {exc}") from None
    if not (isinstance(hit_id, str) and 8 <= len(hit_id) <= 100 and kind in (OPEN, CLICK, QR_SCAN, PAGE_VIEW)
            and isinstance(public_id, str) and len(public_id) == 32):
        raise ValueError("malformed hit: bad id, kind or public id")
    return Hit(hit_id, kind, public_id, link if isinstance(link, int) else None, str(method or "GET"), moment,
               ip or None, ua or None, extra if isinstance(extra, dict) else {},
               raw if isinstance(raw, str) else raw.decode())


# ---------------------------------------------------------------------------------------------
# Producing: one pipelined round trip per request
# ---------------------------------------------------------------------------------------------

def push(redis, payloads: list[str], *, pipe=None) -> bool:
    """Queue hits; returns True when this call should start a drain (none was queued or running)."""
    own = pipe is None
    pipe = pipe if pipe is not None else redis.pipeline(transaction=False)
    pipe.rpush(QUEUE, *payloads)
    pipe.set(DRAIN_FLAG, b"1", nx=True, ex=2)
    if own:
        return bool(pipe.execute()[-1])
    return False


def inline_drain(services) -> bool:
    """Embedded (one process, fakeredis) and tests drain right after queueing; production hands it to workers."""
    default = "inline" if (services.config.embedded or services.config.testing) else "queue"
    return (services.config.extra or {}).get("tracking_drain", default) == "inline"


def submit(services, payloads: list[str]) -> None:
    """Queue hits and see that they are drained: now (embedded) or by a worker (production)."""
    if not payloads:
        return
    should_start = push(services.redis, payloads)
    if inline_drain(services):
        drain(services)
    elif should_start:
        schedule_drain(services)


def backlog(redis) -> int:
    """Hits waiting, including those claimed by a drainer that has not committed yet."""
    claimed = sum(redis.llen(key) for key in redis.zrange(CLAIMS, 0, -1))
    return redis.llen(QUEUE) + claimed


# ---------------------------------------------------------------------------------------------
# Draining
# ---------------------------------------------------------------------------------------------

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


def _claim(redis, size: int, now: float) -> tuple[str, list[bytes]]:
    key = f"{CLAIMED}{os.getpid()}:{secrets.token_hex(6)}"
    items = redis.eval(_CLAIM, 3, QUEUE, key, CLAIMS, size, now)
    return key, items


def _release(redis, key: str) -> int:
    return int(redis.eval(_RELEASE, 3, key, QUEUE, CLAIMS))


def _ack(redis, key: str) -> None:
    pipe = redis.pipeline(transaction=False)
    pipe.delete(key)
    pipe.zrem(CLAIMS, key)
    pipe.execute()


def recover_stale(redis, *, now: float, lease: float = LEASE_SECONDS) -> int:
    """Put back the batches of drainers that died (or stalled) before committing."""
    released = 0
    for key in redis.zrangebyscore(CLAIMS, "-inf", now - lease):
        released += _release(redis, key.decode() if isinstance(key, bytes) else key)
    return released


def drain(services, *, batch_size: int = BATCH_SIZE, max_batches: int | None = None,
          max_seconds: float | None = None) -> DrainResult:
    """Write queued hits to the database until the queue is empty (or a limit is reached).

    Database trouble stops the drain with the batch put back (`error` says why); nothing is lost.
    """
    redis = services.redis
    result = DrainResult()
    started = time.monotonic()
    result.released = recover_stale(redis, now=time.time())
    while max_batches is None or result.batches < max_batches:
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
        key, items = _claim(redis, batch_size, time.time())
        if not items:
            break
        result.batches += 1
        try:
            outcome = _write_with_retries(services, items)
        except (OperationalError, InterfaceError) as exc:  # the database is down or slow: wait, lose nothing
            _release(redis, key)
            result.error = f"database unavailable: {getattr(exc, 'orig', exc)}"
            log.warning("tracking drain paused, %d hits put back: %s", len(items), result.error)
            break
        except Exception as exc:  # a bug with one hit must not block the others: write one by one
            log.exception("tracking batch failed; writing its hits one at a time")
            outcome = _one_by_one(services, redis, items)
            if outcome is None:
                _release(redis, key)
                result.error = f"database unavailable: {exc}"
                break
        _ack(redis, key)
        result.hits += len(items)
        for name in ("written", "duplicates", "skipped", "dead"):
            setattr(result, name, getattr(result, name) + outcome.get(name, 0))
    return result


TRANSIENT = ("40P01", "40001", "55P03")  # deadlock, serialization failure, lock not available


def _write_with_retries(services, items, attempts: int = 5) -> dict[str, int]:
    """Concurrent drainers may deadlock on a contact both are scoring: that batch is simply retried."""
    from app.domain.engagement.recording import write_batch

    for attempt in range(attempts):
        try:
            return write_batch(services, items)
        except DBAPIError as exc:
            code = getattr(getattr(exc, "orig", None), "sqlstate", None)
            if code not in TRANSIENT or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _one_by_one(services, redis, items: Iterable[bytes]) -> dict[str, int] | None:
    from app.domain.engagement.recording import write_batch

    totals = {"written": 0, "duplicates": 0, "skipped": 0, "dead": 0}
    for item in items:
        try:
            outcome = write_batch(services, [item])
        except (OperationalError, InterfaceError):
            return None
        except Exception as exc:
            redis.rpush(DEAD, json.dumps({"hit": item.decode() if isinstance(item, bytes) else item,
                                          "error": repr(exc)[:500], "at": time.time()}))
            totals["dead"] += 1
            continue
        for name, value in outcome.items():
            totals[name] = totals.get(name, 0) + value
    return totals


def schedule_drain(services) -> None:
    """Ask a worker to drain (production); the scheduler's tick is the safety net."""
    try:
        services.queue().enqueue(DRAIN_JOB, job_timeout=300, result_ttl=0, failure_ttl=86400)
    except Exception as exc:  # Redis trouble: the hits are queued or spooled; the tick drains later
        log.warning("could not queue a tracking drain (%s); the scheduler will drain", exc)


def periodic_drain(services, *, max_seconds: float = 10) -> dict[str, Any]:
    """The scheduler's safety net: drain what is queued; Redis or database trouble is reported, not raised."""
    try:
        return drain(services, max_seconds=max_seconds).as_dict()
    except Exception as exc:  # Redis away: the hits wait in Redis, or were spooled to the database
        log.warning("tracking drain skipped: %s", exc)
        return {"error": str(exc)[:200]}
