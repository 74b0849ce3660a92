"""Behaviour score and fit grade: pure functions of events, contact fields and rules.

Every point traces to the event and rule that gave it, and every grade to the criteria met and
missed with the value that decided each. Machine opens and scanner clicks never score.
"""
from __future__ import annotations

import fnmatch
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from . import rules as rules_engine


@dataclass(frozen=True)
class Rule:
    id: int | None
    name: str
    event_type: str
    points: int
    url_pattern: str | None = None
    campaign_id: int | None = None
    daily_cap: int | None = None

    def matches(self, event: "ScoredEvent") -> bool:
        if event.type != self.event_type:
            return False
        if self.campaign_id is not None and event.campaign_id != self.campaign_id:
            return False
        if self.url_pattern and not fnmatch.fnmatch((event.url or "").lower(), self.url_pattern.lower()):
            return False
        return True


@dataclass(frozen=True)
class ScoredEvent:
    id: int
    type: str
    occurred_at: datetime
    url: str | None = None
    campaign_id: int | None = None
    is_machine: bool = False


@dataclass
class ScoreResult:
    total: int
    reasons: list[dict[str, Any]] = field(default_factory=list)


def decay_factor(age_days: float, half_life_days: float | None) -> float:
    if not half_life_days or age_days <= 0:
        return 1.0
    return math.pow(0.5, age_days / half_life_days)


def compute_score(events: Iterable[ScoredEvent], rules: Sequence[Rule], *, now: datetime,
                  half_life_days: float | None) -> ScoreResult:
    """First matching rule wins per event; daily caps apply before decay; the total is rounded once."""
    per_day: dict[tuple[int, str], int] = defaultdict(int)
    reasons: list[dict[str, Any]] = []
    exact = 0.0
    for event in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        if event.is_machine or event.occurred_at > now:
            continue
        rule = next((r for r in rules if r.matches(event)), None)
        if rule is None or rule.points == 0:
            continue
        points = rule.points
        if rule.daily_cap is not None and points > 0:
            key = (id(rule), event.occurred_at.date().isoformat())
            points = max(0, min(points, rule.daily_cap - per_day[key]))
            per_day[key] += points
            if points == 0:
                continue
        age_days = (now - event.occurred_at).total_seconds() / 86400
        value = points * decay_factor(age_days, half_life_days)
        exact += value
        reasons.append({"event_id": event.id, "rule_id": rule.id, "rule": rule.name, "event": event.type,
                        "points": points, "decayed": round(value, 2), "at": event.occurred_at.isoformat()})
    return ScoreResult(total=int(round(exact)), reasons=reasons)


@dataclass(frozen=True)
class Criterion:
    id: int | None
    name: str
    field: str
    operator: str
    value: Any
    weight: int


@dataclass
class FitResult:
    grade: str
    percent: int
    met: list[dict[str, Any]]
    missed: list[dict[str, Any]]


def grade_for(percent: float, thresholds: Mapping[str, int]) -> str:
    for grade in ("A", "B", "C"):
        if percent >= thresholds.get(grade, 101):
            return grade
    return "D"


def compute_fit(fields: Mapping[str, Any], criteria: Sequence[Criterion], thresholds: Mapping[str, int]) -> FitResult:
    met, missed = [], []
    total = sum(c.weight for c in criteria if c.weight > 0)
    gained = 0
    for c in criteria:
        condition = {"field": c.field, "op": c.operator, "value": c.value}
        value = rules_engine.field_value(fields, c.field)
        entry = {"criterion_id": c.id, "name": c.name, "rule": rules_engine.describe(condition),
                 "value": value, "weight": c.weight}
        if rules_engine.condition_holds(condition, fields):
            gained += c.weight
            met.append(entry)
        else:
            missed.append(entry)
    percent = 100.0 * gained / total if total else 0.0
    return FitResult(grade=grade_for(percent, thresholds), percent=int(round(percent)), met=met, missed=missed)


def qualification_reason(score: int, grade: str, threshold: Mapping[str, Any]) -> str | None:
    """Why a contact is marketing-qualified under the agreed threshold, or None."""
    if score >= int(threshold["min_score"]) and grade in threshold["grades"]:
        return f"score {score} ≥ {threshold['min_score']} and grade {grade}"
    return None


def fast_track_reason(event_type: str, grade: str, threshold: Mapping[str, Any]) -> str | None:
    if event_type in threshold.get("fast_track", []) and grade in threshold["grades"]:
        return f"fast track: {event_type.replace('_', ' ')} by a grade {grade} contact"
    return None
