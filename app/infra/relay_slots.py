"""At most k connections to the SMTP relay across every worker on every machine.

Each open connection holds a slot in a Redis sorted set, scored by when it expires, so a worker
killed while holding one frees it when its lease runs out instead of leaking it forever.
"""
from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from typing import Iterator

ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
    return 1
end
return 0
"""


@contextmanager
def relay_slot(redis, relay: str, *, limit: int, lease_seconds: float, wait_seconds: float = 5.0) -> Iterator[bool]:
    """Yields True while holding a slot, False if none freed up within `wait_seconds`."""
    key, member = f"nurture:relay-slots:{relay}", uuid.uuid4().hex
    acquire = redis.register_script(ACQUIRE)
    deadline = time.monotonic() + wait_seconds
    held = False
    while True:
        now = time.time()
        if acquire(keys=[key], args=[now, now + lease_seconds, limit, member]):
            held = True
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    try:
        yield held
    finally:
        if held:
            redis.zrem(key, member)
