"""Behaviour score and fit grade: pure functions of events, contact fields and rules.

Every point traces to the event (or profile trait) and rule that gave it, and every grade to the
criteria met and missed with the value that decided each. Machine opens and scanner clicks never
score. The same walk over the events serves the live score and the what-if replay.
"""
from __future__ import annotations

import fnmatch
import math
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Sequence

from app.domain.contacts import rules as rules_engine

RULE_KINDS = ("event", "milestone", "profile")


@dataclass(frozen=True, eq=False)
class Rule:
    """kind event: points per matching event (first matching event rule wins, daily_cap per day);
    milestone: points once when min_count matching events are reached (within window_days if set);
    profile: points once while the contact matches `condition` (e.g. a free-mail domain)."""

    id: int | None
    name: str
    event_type: str | None
    points: int
    url_pattern: str | None = None
    campaign_id: int | None = None
    daily_cap: int | None = None
    kind: str = "event"
    min_count: int | None = None
    window_days: int | None = None
    condition: Mapping[str, Any] | None = None

    def matches(self, event: "ScoredEvent") -> bool:
        if self.kind == "profile" or event.type != self.event_type:
            return False
        if self.campaign_id is not None and event.campaign_id != self.campaign_id:
            return False
        if self.url_pattern and not url_matches(self.url_pattern, event.url):
            return False
        return True


@lru_cache(maxsize=1024)
def _url_regex(pattern: str) -> re.Pattern:
    return re.compile(fnmatch.translate(pattern.lower()))


def url_matches(pattern: str, url: str | None) -> bool:
    """A glob on the URL, ignoring case: */pricing* matches https://x/Pricing/bl."""
    return _url_regex(pattern).match((url or "").lower()) is not None


@dataclass(frozen=True)
class ScoredEvent:
    id: int
    type: str
    occurred_at: datetime
    url: str | None = None
    campaign_id: int | None = None
    is_machine: bool = False


@dataclass(frozen=True)
class Award:
    """Points one event earned under one rule, after caps, before decay."""

    event: ScoredEvent
    rule: Rule
    points: int
    count: int | None = None  # milestones: the count reached


@dataclass
class ScoreResult:
    total: int
    reasons: list[dict[str, Any]] = field(default_factory=list)


def decay_factor(age_days: float, half_life_days: float | None) -> float:
    if not half_life_days or age_days <= 0:
        return 1.0
    return math.pow(0.5, age_days / half_life_days)


def counts(event: ScoredEvent, *, now: datetime, reset_at: datetime | None) -> bool:
    """Only human events that have happened, and after the last score reset, can score."""
    return not event.is_machine and event.occurred_at <= now and (reset_at is None or event.occurred_at >= reset_at)


class ScoreWalker:
    """Feeds events in time order through the rules: first-match-wins event rules with per-rule and
    per-type daily caps (caps limit gains only), and milestones. Keeps a running decayed sum so the
    score at any moment after the last event is cheap (the what-if replay asks after every event)."""

    def __init__(self, rules: Sequence[Rule], *, half_life_days: float | None,
                 type_caps: Mapping[str, int] | None = None):
        self.event_rules = [r for r in rules if r.kind == "event"]
        self._by_type: dict[str, list[tuple[int, Rule]]] = defaultdict(list)  # first match wins, in list order
        for i, r in enumerate(self.event_rules):
            self._by_type[r.event_type].append((i, r))
        self.milestones = [r for r in rules if r.kind == "milestone"]
        self.half_life_seconds = half_life_days * 86400 if half_life_days else None
        self.type_caps = dict(type_caps or {})
        self.awards: list[Award] = []
        self._rule_day: dict[tuple[int, str], int] = defaultdict(int)
        self._type_day: dict[tuple[str, str], int] = defaultdict(int)
        self._seen: dict[int, deque] = {i: deque() for i in range(len(self.milestones))}
        self._reached: set[int] = set()
        self._anchor: datetime | None = None
        self._sum = 0.0

    def add(self, event: ScoredEvent) -> list[Award]:
        """Score one event (callers pass events in (occurred_at, id) order)."""
        new: list[Award] = []
        index, rule = next(((i, r) for i, r in self._by_type.get(event.type, ()) if r.matches(event)), (None, None))
        if rule is not None and rule.points != 0:
            points = self._capped(index, rule, event)
            if points:
                new.append(Award(event, rule, points))
        for i, milestone in enumerate(self.milestones):
            if i in self._reached or not milestone.matches(event):
                continue
            seen = self._seen[i]
            seen.append(event.occurred_at)
            if milestone.window_days:
                while seen and seen[0] < event.occurred_at - timedelta(days=milestone.window_days):
                    seen.popleft()
            if len(seen) >= (milestone.min_count or 1):
                self._reached.add(i)
                new.append(Award(event, milestone, milestone.points, count=len(seen)))
        for award in new:
            self._accumulate(award)
        self.awards.extend(new)
        return new

    def _capped(self, index: int, rule: Rule, event: ScoredEvent) -> int:
        points = rule.points
        if points < 0:
            return points
        day = event.occurred_at.date().isoformat()
        if rule.daily_cap is not None:
            points = max(0, min(points, rule.daily_cap - self._rule_day[(index, day)]))
        type_cap = self.type_caps.get(event.type)
        if type_cap is not None:
            points = max(0, min(points, type_cap - self._type_day[(event.type, day)]))
        self._rule_day[(index, day)] += points
        self._type_day[(event.type, day)] += points
        return points

    def _accumulate(self, award: Award) -> None:
        at = award.event.occurred_at
        if self.half_life_seconds is None:
            self._sum += award.points
            return
        if self._anchor is None:
            self._anchor = at
        exponent = (at - self._anchor).total_seconds() / self.half_life_seconds
        if exponent > 500:  # re-anchor before 2**exponent overflows
            self._sum *= math.pow(0.5, exponent)
            self._anchor, exponent = at, 0.0
        self._sum += award.points * math.pow(2.0, exponent)

    def exact_at(self, now: datetime) -> float:
        """The decayed sum at `now` (≥ the last event), from the running sum."""
        if self.half_life_seconds is None or self._anchor is None:
            return self._sum
        age = max(0.0, (now - self._anchor).total_seconds()) / self.half_life_seconds
        return self._sum * math.pow(0.5, age)

    def total_at(self, now: datetime, extra: float = 0.0) -> int:
        """The rounded score at `now`; near a rounding boundary it is recomputed award by award, so
        it always equals compute_score's total."""
        exact = self.exact_at(now) + extra
        if abs(exact - math.floor(exact) - 0.5) < 1e-6:
            exact = sum(a.points * decay_factor((now - a.event.occurred_at).total_seconds() / 86400,
                                                self.half_life_seconds and self.half_life_seconds / 86400)
                        for a in self.awards) + extra
        return int(round(exact))


def profile_awards(rules: Sequence[Rule], profile: Mapping[str, Any] | None) -> list[tuple[Rule, Any]]:
    """Profile rules the contact matches, with the value that decided each."""
    if profile is None:
        return []
    return [(r, rules_engine.field_value(profile, r.condition["field"])) for r in rules
            if r.kind == "profile" and r.condition and r.points and rules_engine.condition_holds(r.condition, profile)]


def compute_score(events: Iterable[ScoredEvent], rules: Sequence[Rule], *, now: datetime,
                  half_life_days: float | None, profile: Mapping[str, Any] | None = None,
                  reset_at: datetime | None = None, type_caps: Mapping[str, int] | None = None) -> ScoreResult:
    """First matching event rule wins per event; caps apply before decay; profile points don't decay;
    events before `reset_at` (a recycled lead) no longer count; the total is rounded once."""
    walker = ScoreWalker(rules, half_life_days=half_life_days, type_caps=type_caps)
    for event in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        if counts(event, now=now, reset_at=reset_at):
            walker.add(event)
    reasons: list[dict[str, Any]] = []
    exact = 0.0
    for rule, value in profile_awards(rules, profile):
        exact += rule.points
        reasons.append({"event_id": None, "rule_id": rule.id, "rule": rule.name, "event": "profile",
                        "kind": "profile", "field": rule.condition["field"], "value": value,
                        "points": rule.points, "decayed": float(rule.points), "at": None})
    for award in walker.awards:
        event = award.event
        value = award.points * decay_factor((now - event.occurred_at).total_seconds() / 86400, half_life_days)
        exact += value
        reason = {"event_id": event.id, "rule_id": award.rule.id, "rule": award.rule.name, "event": event.type,
                  "kind": award.rule.kind, "points": award.points, "decayed": round(value, 2),
                  "at": event.occurred_at.isoformat()}
        if award.count is not None:
            reason["count"] = award.count
        reasons.append(reason)
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


@dataclass(frozen=True)
class PreparedCriterion:
    """A criterion with its words and its test worked out once, for scoring many contacts."""

    criterion: Criterion
    rule: str
    holds: Callable[[Any], bool]


def prepare_criteria(criteria: Sequence[Criterion]) -> list[PreparedCriterion]:
    prepared = []
    for c in criteria:
        condition = {"field": c.field, "op": c.operator, "value": c.value}
        if c.operator in ("in", "not_in") and isinstance(c.value, list):
            listed = frozenset(rules_engine._text(x) for x in c.value)
            inside = (lambda a, s=listed: rules_engine._present(a) and rules_engine._text(a) in s)
            holds = inside if c.operator == "in" else (lambda a, f=inside: not f(a))
        else:
            holds = (lambda a, op=rules_engine.OPERATORS[c.operator], v=c.value: op(a, v))
        prepared.append(PreparedCriterion(c, rules_engine.describe(condition), holds))
    return prepared


def compute_fit(fields: Mapping[str, Any], criteria: Sequence[Criterion] | Sequence[PreparedCriterion],
                thresholds: Mapping[str, int]) -> FitResult:
    """The share of the total (positive) weight met; a met negative weight subtracts."""
    prepared = [c if isinstance(c, PreparedCriterion) else None for c in criteria]
    if None in prepared:
        prepared = prepare_criteria(criteria)
    met, missed = [], []
    total = sum(p.criterion.weight for p in prepared if p.criterion.weight > 0)
    gained = 0
    for p in prepared:
        c = p.criterion
        value = rules_engine.field_value(fields, c.field)
        entry = {"criterion_id": c.id, "name": c.name, "rule": p.rule, "value": value, "weight": c.weight}
        if p.holds(value):
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


def fast_track_rules(threshold: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`fast_track` entries as mappings: "demo_request" or {event, url?, grades?}."""
    out = []
    for entry in threshold.get("fast_track") or []:
        if isinstance(entry, str):
            entry = {"event": entry}
        out.append({"event": entry["event"], "url": entry.get("url"),
                    "grades": list(entry.get("grades") or threshold["grades"]), "name": entry.get("name")})
    return out


def fast_track_reason(event_type: str, grade: str, threshold: Mapping[str, Any], url: str | None = None) -> str | None:
    """An immediate opportunity: the event (and URL pattern) of a fast-track rule by a contact of its grades."""
    for rule in fast_track_rules(threshold):
        if event_type != rule["event"] or grade not in rule["grades"]:
            continue
        if rule["url"] and not url_matches(rule["url"], url):
            continue
        what = rule["name"] or event_type.replace("_", " ") + (f" of {rule['url']}" if rule["url"] else "")
        return f"fast track: {what} by a grade {grade} contact"
    return None
