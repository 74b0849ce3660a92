"""RQ jobs. They take ids, reload inside, call the domain, and let send failures propagate."""
from __future__ import annotations

from app.domain.delivery import send_batch

from . import runtime


def send_messages(message_ids: list[int]) -> dict[str, int]:
    """Send a batch of owed messages over one connection; messages already handled are skipped."""
    return send_batch(runtime.current(), list(message_ids))
