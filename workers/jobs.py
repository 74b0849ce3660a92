"""RQ jobs. They take ids, reload inside, call the domain, and let send failures propagate."""
from __future__ import annotations

from app.domain.engagement.drain import drain
from app.domain.handoff.hand_off import hand_off_by_id
from app.domain.contacts.webhooks import deliver
from app.domain.qualification.rescoring import rescore_range
from app.domain.sending.delivery import send_batch

from . import runtime


def send_messages(message_ids: list[int]) -> dict[str, int]:
    """Send a batch of owed messages over one connection; messages already handled are skipped."""
    return send_batch(runtime.current(), list(message_ids))


def deliver_webhook(delivery_id: int) -> str:
    """POST one owed webhook delivery; a refusal is recorded with its backoff and then raised, so RQ shows it."""
    return deliver(runtime.current(), delivery_id)


def rescore_contacts(first_id: int, last_id: int) -> dict:
    """Re-score the contacts with first_id ≤ id ≤ last_id in chunks; hand off those that now qualify."""
    services = runtime.current()
    with services.sessions() as session:
        return rescore_range(session, first_id, last_id, now=services.now(), hand_off=hand_off_by_id).as_dict()


def drain_tracking() -> dict:
    """Write the queued opens, clicks, scans and page views to the database in idempotent batches."""
    return drain(runtime.current(), max_seconds=60).as_dict()
