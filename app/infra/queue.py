"""Handing work to RQ: every job name and every enqueue of the product.

The database is the record of what is owed; Redis only carries work. Domain code marks messages
as owed on the session, and they are enqueued once that session commits. If Redis is away the
enqueue is skipped with a warning: the scheduler's sweeper finds pending messages and re-queues,
the next tick re-queues webhooks, and the tick's drain empties the hit buffer.
"""
from __future__ import annotations

import logging

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from app.models import Message

log = logging.getLogger(__name__)

# The jobs, by dotted name (workers/jobs.py): RQ imports them in the worker, so the web process
# and the scheduler never import the workers package.
SEND_JOB = "workers.jobs.send_messages"
DRAIN_JOB = "workers.jobs.drain_tracking"
WEBHOOK_JOB = "workers.jobs.deliver_webhook"
RESCORE_JOB = "workers.jobs.rescore_contacts"


def owe(session: Session, message) -> None:
    """Enqueue this (pending) message for sending once the session commits."""
    session.info.setdefault("owed_messages", []).append(message)


def owe_ids(session: Session, message_ids, *, queued: bool = False) -> None:
    """The same for messages written in bulk, known by id; `queued` if their rows already carry queued_at."""
    session.info.setdefault("owed_ids_queued" if queued else "owed_ids", []).extend(message_ids)


def owe_webhooks(session: Session, delivery_ids) -> None:
    """Enqueue these webhook deliveries once the session commits (the tick would, later)."""
    session.info.setdefault("owed_webhooks", []).extend(delivery_ids)


def install_enqueue_after_commit(services) -> None:
    @event.listens_for(services.sessions, "after_commit")
    def _enqueue_owed(session):
        owed = [m.id for m in session.info.pop("owed_messages", [])] + session.info.pop("owed_ids", [])
        if owed:
            enqueue_sends(services, owed)
        owed_marked = session.info.pop("owed_ids_queued", [])
        if owed_marked:
            enqueue_sends(services, owed_marked, marked=True)
        hooks = session.info.pop("owed_webhooks", [])
        if hooks:
            enqueue_webhooks(services, hooks)

    @event.listens_for(services.sessions, "after_rollback")
    def _forget_owed(session):
        for key in ("owed_messages", "owed_ids", "owed_ids_queued", "owed_webhooks"):
            session.info.pop(key, None)


def enqueue_sends(services, message_ids: list[int], *, marked: bool = False) -> int:
    """Queue send jobs in batches; returns how many messages were queued (0 if Redis is away).

    Each message's queued_at is set, so the sweeper leaves it alone for a while. `marked`: the rows
    were written with queued_at already (bulk planning); then only those Redis turned away are
    unmarked, so the next sweep queues them again at once."""
    if not message_ids:
        return 0
    size = services.config.send_batch_size
    queued: list[int] = []
    try:
        queue = services.queue()
        for start in range(0, len(message_ids), size):
            batch = message_ids[start:start + size]
            queue.enqueue(SEND_JOB, batch, job_timeout=600, result_ttl=0, failure_ttl=7 * 86400)
            queued.extend(batch)
    except Exception as exc:  # Redis down or flushed: the sweeper re-queues from the database.
        log.warning("could not enqueue %d messages (%s); the sweeper will retry", len(message_ids) - len(queued), exc)
    if marked:
        refused = message_ids[len(queued):]
        if refused:
            with services.engine.begin() as conn:
                conn.execute(update(Message).where(Message.id.in_(refused)).values(queued_at=None))
    elif queued:
        with services.engine.begin() as conn:
            conn.execute(update(Message).where(Message.id.in_(queued)).values(queued_at=services.now()))
    return len(queued)


def enqueue_drain(services) -> None:
    """Ask a worker to drain the hit buffer; the scheduler's tick is the safety net."""
    try:
        services.queue().enqueue(DRAIN_JOB, job_timeout=300, result_ttl=0, failure_ttl=86400)
    except Exception as exc:  # Redis trouble: the hits are queued or spooled; the tick drains later
        log.warning("could not queue a tracking drain (%s); the scheduler will drain", exc)


def enqueue_webhooks(services, delivery_ids: list[int]) -> int:
    """One job per owed webhook delivery; returns how many were queued (0 if Redis is away)."""
    try:
        queue = services.queue()
        for delivery_id in delivery_ids:
            queue.enqueue(WEBHOOK_JOB, delivery_id, job_timeout=60, result_ttl=0, failure_ttl=7 * 86400)
    except Exception as exc:  # Redis away: the rows are re-queued after REQUEUE_AFTER
        log.warning("could not enqueue webhooks (%s); they will be retried", exc)
        return 0
    return len(delivery_ids)


def enqueue_rescore(services, ranges: list[tuple[int, int]]) -> int:
    """One re-scoring job per range of contact ids."""
    queue = services.queue()
    for first, last in ranges:
        queue.enqueue(RESCORE_JOB, first, last, job_timeout=3600, result_ttl=0, failure_ttl=7 * 86400)
    return len(ranges)
