"""The hit buffer in Redis: a list of queued hits, the batches drainers have claimed (a sorted set of
claimed lists by claim time, so a dead drainer's batch is put back after its lease), and a
dead-letter list of hits that failed on their own. Hits are opaque strings here."""
from __future__ import annotations

import json
import os
import secrets
import time

QUEUE = "nurture:hits"
CLAIMS = "nurture:hits:claims"           # sorted set: claimed list key → claim time
CLAIMED = "nurture:hits:claimed:"        # + batch id: the hits one drainer is writing
DEAD = "nurture:hits:dead"               # hits that failed on their own, with the error
DRAIN_FLAG = "nurture:hits:drain-queued"  # set while a drain job is queued or running
LEASE_SECONDS = 120

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



def push(redis, payloads: list[str], *, pipe=None) -> bool:
    """Queue hits; returns True when this call should start a drain (none was queued or running)."""
    own = pipe is None
    pipe = pipe if pipe is not None else redis.pipeline(transaction=False)
    pipe.rpush(QUEUE, *payloads)
    pipe.set(DRAIN_FLAG, b"1", nx=True, ex=2)
    if own:
        return bool(pipe.execute()[-1])
    return False


def push_commands(payloads: list[str]) -> list[tuple]:
    """The same push as raw commands, for the tracking fast path's RESP pipeline; the last answer
    says whether to start a drain."""
    return [("RPUSH", QUEUE, *payloads), ("SET", DRAIN_FLAG, "1", "NX", "EX", "2")]


def backlog(redis) -> int:
    """Hits waiting, including those claimed by a drainer that has not committed yet."""
    claimed = sum(redis.llen(key) for key in redis.zrange(CLAIMS, 0, -1))
    return redis.llen(QUEUE) + claimed


def dead_count(redis) -> int:
    return redis.llen(DEAD)


def claim(redis, size: int, now: float) -> tuple[str, list[bytes]]:
    """Move up to `size` hits from the queue to a claimed list of this drainer's, atomically."""
    key = f"{CLAIMED}{os.getpid()}:{secrets.token_hex(6)}"
    items = redis.eval(_CLAIM, 3, QUEUE, key, CLAIMS, size, now)
    return key, items


def release(redis, key: str) -> int:
    """Put a claimed batch back at the head of the queue."""
    return int(redis.eval(_RELEASE, 3, key, QUEUE, CLAIMS))


def ack(redis, key: str) -> None:
    """Forget a claimed batch once its hits are committed."""
    pipe = redis.pipeline(transaction=False)
    pipe.delete(key)
    pipe.zrem(CLAIMS, key)
    pipe.execute()


def recover_stale(redis, *, now: float, lease: float = LEASE_SECONDS) -> int:
    """Put back the batches of drainers that died (or stalled) before committing."""
    released = 0
    for key in redis.zrangebyscore(CLAIMS, "-inf", now - lease):
        released += release(redis, key.decode() if isinstance(key, bytes) else key)
    return released


def bury(redis, item: bytes | str, error: str) -> None:
    """Keep a hit that failed on its own, with its error, for a person to look at."""
    redis.rpush(DEAD, json.dumps({"hit": item.decode() if isinstance(item, bytes) else item,
                                  "error": error[:500], "at": time.time()}))
