"""Counters in Redis that every worker on every machine shares: sending rates per minute and the
warm-up's daily volume (sending limits), and the sliding logs of form posts per address and of
failed sign-ins per account and per address; fixed windows of the site snippet's beacons per token."""
from __future__ import annotations

import uuid

COUNTER_TTL = 2 * 86400


def rate_counter(scope: str, subject: str, minute: str) -> str:
    """The counter of one minute's sends to a destination domain or of a campaign."""
    return f"nurture:rate:{scope}:{subject}:{minute}"


def warmup_counter(day: str) -> str:
    return f"nurture:warmup:{day}"


def take_all_or_none(redis, limits: list[tuple[str, int]]) -> list[bool]:
    """Count one use on every (counter, limit). If any counter went over its limit the use is taken
    back from all of them, so a refused send costs no budget. Returns, per counter, whether it was over."""
    pipe = redis.pipeline()
    for key, _ in limits:
        pipe.incr(key)
        pipe.expire(key, COUNTER_TTL)
    counts = pipe.execute()[::2]
    over = [count > limit for (_, limit), count in zip(limits, counts)]
    if any(over):
        undo = redis.pipeline()
        for key, _ in limits:
            undo.decr(key)
        undo.execute()
    return over


def log_attempt(redis, subject: str, *, now: float, window: float, keep: int) -> int:
    """Record an attempt in the subject's sliding log and return how many fall within the last
    `window` seconds. The log is trimmed to its newest `keep` entries, so a flood cannot grow it."""
    key = f"nurture:rl:{subject}"
    pipe = redis.pipeline(transaction=True)
    pipe.zremrangebyscore(key, "-inf", now - window)
    pipe.zadd(key, {f"{now:.6f}:{uuid.uuid4().hex[:8]}": now})
    pipe.zremrangebyrank(key, 0, -(keep + 1))
    pipe.zcard(key)
    pipe.expire(key, int(window) + 1)
    return int(pipe.execute()[3])


def recent_attempts(redis, subject: str, *, now: float, window: float) -> list[float]:
    """The times of the subject's logged attempts within the last `window` seconds, oldest first."""
    found = redis.zrangebyscore(f"nurture:rl:{subject}", now - window, "+inf", withscores=True)
    return [score for _, score in found]


def forget_attempts(redis, subject: str) -> None:
    redis.delete(f"nurture:rl:{subject}")


def window_commands(subject: str, limits: tuple[tuple[int, int], ...], *, now: float) -> list[tuple]:
    """Raw commands counting one use in a fixed-window counter per (limit, seconds): INCR and EXPIRE
    each, for whichever pipeline the caller sends them on (the tracking fast path has its own)."""
    commands: list[tuple] = []
    for _, seconds in limits:
        key = f"nurture:win:{subject}:{seconds}:{int(now // seconds)}"
        commands += [("INCR", key), ("EXPIRE", key, seconds + 1)]
    return commands


def retry_after(results: list, limits: tuple[tuple[int, int], ...], *, now: float) -> int:
    """From the answers to window_commands: 0 if every counter is within its limit, else the seconds
    until the window over its limit ends."""
    waits = [seconds - int(now % seconds) for count, (limit, seconds) in zip(results[0::2], limits)
             if int(count) > limit]
    return max(waits, default=0)
