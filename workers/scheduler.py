"""The periodic work: plan due steps into messages, sweep stale ones, and sleep until the next tick.

Several schedulers may run against one PostgreSQL database: due enrollments are locked with
SKIP LOCKED, so each step is planned once. On SQLite run one.
"""
from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta

from app.domain.campaigns.enrollment import plan_due_messages
from app.domain.engagement.drain import periodic_drain  # tracking hits left in Redis: the net behind the drain jobs
from app.domain.handoff.periodic import qualification_tick  # SLA, handoff queue, reviews, webhooks, re-scoring
from app.domain.sending.sweeper import sweep

log = logging.getLogger(__name__)
REQUEUE_AFTER = timedelta(minutes=5)


def tick(services, *, requeue_after: timedelta = REQUEUE_AFTER, plan_limit: int = 5000) -> dict[str, int]:
    with services.sessions() as session:
        planned = plan_due_messages(session, now=services.now(), limit=plan_limit)
        session.commit()  # owed messages are enqueued after this commit
    swept = sweep(services, requeue_after=requeue_after)
    tracking = periodic_drain(services)
    return {"planned": planned, **swept, "qualification": qualification_tick(services), "tracking": tracking}


def run_forever(services, *, interval: float, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    log.info("scheduler running every %.1fs", interval)
    while not stop.is_set():
        try:
            result = tick(services)
            if result["planned"] or result["requeued"] or result["unknown"]:
                log.info("tick: %s", result)
        except Exception:  # one bad tick must not stop the scheduler; the next one retries
            log.exception("scheduler tick failed")
        stop.wait(interval)
