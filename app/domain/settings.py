"""Named settings of the agreement, with the defaults that apply until someone changes them."""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import Setting

REJECT_REASONS = ["not the decision maker", "no budget", "no need", "bad timing", "already a customer",
                  "competitor", "wrong contact data", "duplicate"]
ACCEPT_REASONS = ["budget confirmed", "active project", "decision maker", "good timing", "strong engagement"]
LOST_REASONS = ["price", "chose a competitor", "no decision", "project cancelled", "timing", "went dark",
                "product fit"]

DEFAULTS: dict[str, dict[str, Any]] = {
    "qualification": {"min_score": 100, "grades": ["A", "B"], "fast_track": ["demo_request"], "sla_hours": 48},
    "scoring": {"half_life_days": 30, "type_caps": {}},
    "fit_grades": {"A": 80, "B": 60, "C": 40},
    # What happens when a rep lets the SLA pass: escalate to their manager, or reassign (then escalate).
    "handoff": {"sla_action": "escalate", "max_reassignments": 1, "weekly_cap": None},
    "feedback": {"reject_reasons": REJECT_REASONS, "accept_reasons": ACCEPT_REASONS, "lost_reasons": LOST_REASONS},
    # Rejected or lost leads whose reasons are listed here go back to nurture by themselves.
    "recycle": {"campaign": "recycle", "on_reject": [], "on_lost": []},
    "reports": {"min_evidence": 5, "target_acceptance": 60, "score_bands": [50, 100, 150, 200]},
}


def get_setting(session: Session, key: str) -> dict[str, Any]:
    row = session.get(Setting, key)
    merged = copy.deepcopy(DEFAULTS.get(key, {}))
    if row is not None:
        merged.update(row.value)
    return merged


def put_setting(session: Session, key: str, value: dict[str, Any], now: datetime) -> bool:
    """Store a setting; returns whether it changed."""
    session.info.pop("agreement", None)  # the cached agreement (app.domain.qualification.agreement) is stale now
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value, updated_at=now))
        return True
    if row.value != value:
        row.value = value
        row.updated_at = now
        return True
    return False
