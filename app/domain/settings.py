"""Named settings of the agreement, with the defaults that apply until someone changes them."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import Setting

DEFAULTS: dict[str, dict[str, Any]] = {
    "qualification": {"min_score": 100, "grades": ["A", "B"], "fast_track": ["demo_request"], "sla_hours": 48},
    "scoring": {"half_life_days": 30},
    "fit_grades": {"A": 80, "B": 60, "C": 40},
}


def get_setting(session: Session, key: str) -> dict[str, Any]:
    row = session.get(Setting, key)
    merged = dict(DEFAULTS.get(key, {}))
    if row is not None:
        merged.update(row.value)
    return merged


def put_setting(session: Session, key: str, value: dict[str, Any], now: datetime) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value, updated_at=now))
    elif row.value != value:
        row.value = value
        row.updated_at = now
