"""Accepting hits: the tracking front encodes each hit (engagement.hits) and queues it in the Redis
buffer in one round trip; a drain follows at once on the embedded default, or as a worker job in
production (app.infra.queue), with the scheduler's tick as the safety net.

The path of a hit: accept (app/tracking/fastpath.py) → buffer (here, app/infra/hit_buffer.py) →
drain (engagement.drain) → record (engagement.recording) → react and score (engagement.events,
handoff.hand_off.refresh_contact)."""
from __future__ import annotations

from app.infra import hit_buffer, queue

from app.domain.engagement.drain import drain


def inline_drain(services) -> bool:
    """Embedded (one process, fakeredis) and tests drain right after queueing; production hands it to workers."""
    default = "inline" if (services.config.embedded or services.config.testing) else "queue"
    return (services.config.extra or {}).get("tracking_drain", default) == "inline"


def submit(services, payloads: list[str]) -> None:
    """Queue hits and see that they are drained: now (embedded) or by a worker (production)."""
    if not payloads:
        return
    should_start = hit_buffer.push(services.redis, payloads)
    if inline_drain(services):
        drain(services)
    elif should_start:
        queue.enqueue_drain(services)
