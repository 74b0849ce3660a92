"""The agreement's periodic work, run by every scheduler tick: SLA expiry, the handoff queue, the
monthly lead reviews, owed CRM webhooks, and re-scoring when the agreement changed (or daily, as
points decay). Each part runs in its own transaction; one failing never blocks the others."""
from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy.orm import Session

from app.infra import queue

from app.domain.handoff.hand_off import release_queued
from app.domain.qualification.rescoring import id_ranges, mark_rescored, rescore_due
from app.domain.handoff.reviews import owe_reviews
from app.domain.handoff.sla import enforce_sla
from app.domain.contacts.webhooks import due_deliveries

log = logging.getLogger(__name__)
RESCORE_RANGE = 5000


def _part(services, name: str, work: Callable[[Session], object], results: dict) -> None:
    try:
        with services.sessions() as session:
            results[name] = work(session)
            session.commit()
    except Exception:  # isolated: the next tick retries this part
        log.exception("periodic %s failed", name)
        results[name] = "error"


def qualification_tick(services) -> dict:
    now = services.now()
    results: dict = {}
    _part(services, "sla", lambda s: enforce_sla(s, now=now), results)
    _part(services, "released", lambda s: release_queued(s, now=now), results)
    _part(services, "reviews", lambda s: owe_reviews(s, now=now), results)
    _part(services, "webhooks", lambda s: due_deliveries(s, now=now), results)
    if isinstance(results.get("webhooks"), list):
        results["webhooks"] = queue.enqueue_webhooks(services, results["webhooks"])
    _part(services, "rescore", lambda s: schedule_rescore(services, s), results)
    return results


def schedule_rescore(services, session: Session) -> str | None:
    """Fan a full re-score out as one job per range of contact ids, when one is due."""
    why = rescore_due(session, now=services.now())
    if why is None:
        return None
    mark_rescored(session, now=services.now())
    session.commit()  # recorded first, so the next tick does not schedule it again
    enqueue_rescore(services, session)
    log.info("re-scoring every contact: %s", why)
    return why


def enqueue_rescore(services, session: Session) -> int:
    return queue.enqueue_rescore(services, id_ranges(session, RESCORE_RANGE))
