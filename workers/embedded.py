"""The embedded default: the same RQ jobs, run by a worker thread over an in-process Redis."""
from __future__ import annotations

import threading

from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

from app.extensions import QUEUE_NAMES

from . import runtime
from .scheduler import run_forever


class ThreadWorker(SimpleWorker):
    """A SimpleWorker that can live off the main thread: no signal handlers, timer-based timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


def make_worker(services) -> ThreadWorker:
    queues = [Queue(name, connection=services.redis) for name in QUEUE_NAMES]
    return ThreadWorker(queues, connection=services.redis)


def drain(services) -> None:
    """Run every queued job now, in this thread (tests and one-shot commands)."""
    runtime.bind(services)
    make_worker(services).work(burst=True)


class EmbeddedRuntime:
    def __init__(self, services, *, scheduler_interval: float):
        self.services = services
        self.interval = scheduler_interval
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        runtime.bind(self.services)
        worker = make_worker(self.services)
        self.threads = [
            threading.Thread(target=worker.work, kwargs={"with_scheduler": False}, name="nurture-worker", daemon=True),
            threading.Thread(target=run_forever, args=(self.services,),
                             kwargs={"interval": self.interval, "stop": self.stop}, name="nurture-scheduler", daemon=True),
        ]
        for thread in self.threads:
            thread.start()
