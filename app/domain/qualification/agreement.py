"""The marketing–sales agreement as one document: validated whole, applied to the database, read back.

The same shape lives in campaigns/agreement.yml, in the settings page and in a what-if proposal:
qualification, scoring, fit, segments, handoff, feedback, recycle, reports. Validation returns every
problem as "where: message"; nothing is applied unless there are none.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Mapping

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from app.models import Campaign, FitCriterion, ScoringRule, Segment, Setting

from app.domain.qualification.checks import campaign_problems, rule_kind, validate_agreement  # noqa: F401 (re-exported)
from app.domain.errors import ValidationError
from app.domain.qualification.scoring import Criterion, PreparedCriterion, Rule, prepare_criteria
from app.domain.settings import DEFAULTS, get_setting, put_setting

SETTING_SECTIONS = ("handoff", "feedback", "recycle", "reports")


class AgreementError(ValidationError):
    """Every problem of a proposed agreement; `field` is the first problem's place."""

    def __init__(self, problems: list[str]):
        where, _, message = problems[0].partition(": ")
        super().__init__(where, message if len(problems) == 1 else f"{message} (and {len(problems) - 1} more)")
        self.problems = problems


# --- the agreement in force --------------------------------------------------------------------------

@dataclass
class Agreement:
    """What scoring and qualification need, loaded once per session (or built from a proposal)."""

    rules: list[Rule]
    criteria: list[Criterion]
    grades: dict[str, int]
    qualification: dict[str, Any]
    half_life_days: float | None
    type_caps: dict[str, int] = field(default_factory=dict)

    @cached_property
    def prepared_criteria(self) -> list[PreparedCriterion]:
        return prepare_criteria(self.criteria)


def load_agreement(session: Session) -> Agreement:
    """The agreement in the database, cached on the session until it commits or rolls back."""
    cached = session.info.get("agreement")
    if cached is not None:
        return cached
    rows = session.scalars(select(ScoringRule).where(ScoringRule.active.is_(True)).order_by(ScoringRule.id)).all()
    rules = [Rule(r.id, r.name, r.event_type, r.points, r.url_pattern, r.campaign_id, r.daily_cap, r.kind or "event",
                  r.min_count, r.window_days, r.condition) for r in rows]
    crit = session.scalars(select(FitCriterion).where(FitCriterion.active.is_(True)).order_by(FitCriterion.id)).all()
    criteria = [Criterion(c.id, c.name, c.field, c.operator, (c.value or {}).get("v"), c.weight) for c in crit]
    stored = dict(session.execute(select(Setting.key, Setting.value).where(
        Setting.key.in_(["scoring", "fit_grades", "qualification"]))).all())
    scoring, grades, qualification = ({**copy.deepcopy(DEFAULTS[k]), **(stored.get(k) or {})}
                                      for k in ("scoring", "fit_grades", "qualification"))
    agreement = Agreement(rules=rules, criteria=criteria, grades=grades, qualification=qualification,
                          half_life_days=scoring.get("half_life_days"), type_caps=scoring.get("type_caps") or {})
    session.info["agreement"] = agreement
    if not session.info.get("agreement_listener"):
        session.info["agreement_listener"] = True
        event.listen(session, "after_transaction_end", _forget_on_end)
    return agreement


def _forget_on_end(session: Session, transaction) -> None:
    """The cache lives for one outermost transaction (a savepoint's end keeps it): another process
    may change the agreement between transactions."""
    if transaction.parent is None:
        session.info.pop("agreement", None)


def forget_agreement(session: Session) -> None:
    session.info.pop("agreement", None)


def proposed_agreement(session: Session, data: Mapping[str, Any]) -> Agreement:
    """An Agreement from a (validated) document; sections it leaves out are taken from the one in force."""
    problems = validate_agreement(data)
    known = set(session.scalars(select(Campaign.slug)).all())
    problems += campaign_problems(data, known)
    if problems:
        raise AgreementError(problems)
    current = load_agreement(session)
    scoring, fit = data.get("scoring") or {}, data.get("fit") or {}
    ids = dict(session.execute(select(Campaign.slug, Campaign.id)).all())
    rules = current.rules if scoring.get("rules") is None else [
        Rule(None, **_rule_values(r, ids)) for r in scoring["rules"]]
    criteria = current.criteria if fit.get("criteria") is None else [
        Criterion(None, c["name"], c["field"], c["op"], c.get("value"), c.get("weight", 1)) for c in fit["criteria"]]
    return Agreement(
        rules=rules, criteria=criteria, grades={**current.grades, **(fit.get("grades") or {})},
        qualification={**current.qualification, **(data.get("qualification") or {})},
        half_life_days=scoring.get("half_life_days", current.half_life_days),
        type_caps=scoring.get("type_caps", current.type_caps) or {})


def _rule_values(r: Mapping[str, Any], campaign_ids: Mapping[str, int]) -> dict[str, Any]:
    """A file rule as the ScoringRule/Rule columns."""
    kind = rule_kind(r)
    return {"name": r["name"], "event_type": r.get("event"), "points": r["points"], "url_pattern": r.get("url"),
            "campaign_id": campaign_ids.get(r["campaign"]) if r.get("campaign") else None,
            "daily_cap": r.get("daily_cap"), "kind": kind, "min_count": r.get("at_least"),
            "window_days": r.get("within_days"), "condition": dict(r["when"]) if kind == "profile" else None}


# --- applying and reading back -----------------------------------------------------------------------

def _put(session: Session, key: str, value: Mapping[str, Any], now: datetime) -> bool:
    """Store a section unless it already reads the same (defaults included)."""
    if get_setting(session, key) == {**DEFAULTS.get(key, {}), **value}:
        return False
    return put_setting(session, key, dict(value), now)


def apply_agreement(session: Session, data: Mapping[str, Any], now: datetime) -> int:
    """Write the sections present in `data` (already validated); returns 1 if anything changed."""
    forget_agreement(session)
    changed = False
    if data.get("qualification"):
        changed |= _put(session, "qualification", data["qualification"], now)
    scoring = data.get("scoring") or {}
    values = {k: scoring[k] for k in ("half_life_days", "type_caps") if k in scoring}
    if values:
        changed |= _put(session, "scoring", values, now)
    fit = data.get("fit") or {}
    if fit.get("grades"):
        changed |= _put(session, "fit_grades", fit["grades"], now)
    for section in SETTING_SECTIONS:
        if data.get(section) is not None:
            changed |= _put(session, section, data[section], now)
    if scoring.get("rules") is not None:
        changed |= _replace_rules(session, scoring["rules"])
    if fit.get("criteria") is not None:
        changed |= _replace_criteria(session, fit["criteria"])
    changed |= _upsert_segments(session, data.get("segments") or [])
    forget_agreement(session)
    return int(changed)


def merged_with_current(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """A partial document (say only `qualification: {min_score: 120}`) completed from the agreement in
    force, key by key, so saving it changes only what it names. Lists (rules, criteria, segments,
    reasons) are replaced whole."""
    merged = agreement_data(session)
    for section, value in data.items():
        if isinstance(value, Mapping) and isinstance(merged.get(section), Mapping):
            merged[section] = {**merged[section], **value}
        else:
            merged[section] = value
    return merged


RULE_COLUMNS = ("name", "event_type", "points", "url_pattern", "campaign_id", "daily_cap", "kind", "min_count",
                "window_days", "condition")


def _replace_rules(session: Session, rules: list[Mapping[str, Any]]) -> bool:
    ids = dict(session.execute(select(Campaign.slug, Campaign.id)).all())
    wanted = [_rule_values(r, ids) for r in rules]
    have = [{c: getattr(r, c) for c in RULE_COLUMNS}
            for r in session.scalars(select(ScoringRule).where(ScoringRule.active.is_(True)).order_by(ScoringRule.id))]
    if wanted == have:
        return False
    session.execute(delete(ScoringRule))
    session.add_all(ScoringRule(active=True, **values) for values in wanted)
    return True


def _replace_criteria(session: Session, criteria: list[Mapping[str, Any]]) -> bool:
    wanted = [(c["name"], c["field"], c["op"], {"v": c.get("value")}, c.get("weight", 1)) for c in criteria]
    have = [(c.name, c.field, c.operator, c.value, c.weight)
            for c in session.scalars(select(FitCriterion).where(FitCriterion.active.is_(True)).order_by(FitCriterion.id))]
    if wanted == have:
        return False
    session.execute(delete(FitCriterion))
    session.add_all(FitCriterion(name=n, field=f, operator=o, value=v, weight=w, active=True) for n, f, o, v, w in wanted)
    return True


def _upsert_segments(session: Session, segments: list[Mapping[str, Any]]) -> bool:
    changed = False
    for i, seg in enumerate(segments):
        row = session.scalar(select(Segment).where(Segment.slug == seg["slug"]))
        values = {"name": seg.get("name", seg["slug"]), "rules": seg["rules"], "priority": -i}
        if row is None:
            session.add(Segment(slug=seg["slug"], **values))
            changed = True
            continue
        for key, value in values.items():
            if getattr(row, key) != value:
                setattr(row, key, value)
                changed = True
    return changed


def agreement_data(session: Session) -> dict[str, Any]:
    """The agreement in force, in the file format (for export, the settings page and what-if)."""
    slugs = dict(session.execute(select(Campaign.id, Campaign.slug)).all())
    rules = []
    for r in session.scalars(select(ScoringRule).where(ScoringRule.active.is_(True)).order_by(ScoringRule.id)):
        rule: dict[str, Any] = {"name": r.name}
        if r.kind == "profile":
            rule["when"] = r.condition
        else:
            rule["event"] = r.event_type
            if r.url_pattern:
                rule["url"] = r.url_pattern
            if r.campaign_id is not None and r.campaign_id in slugs:
                rule["campaign"] = slugs[r.campaign_id]
            if r.kind == "milestone":
                rule["at_least"] = r.min_count
                if r.window_days:
                    rule["within_days"] = r.window_days
        rule["points"] = r.points
        if r.daily_cap is not None:
            rule["daily_cap"] = r.daily_cap
        rules.append(rule)
    criteria = [{"name": c.name, "field": c.field, "op": c.operator, "value": (c.value or {}).get("v"),
                 "weight": c.weight}
                for c in session.scalars(select(FitCriterion).where(FitCriterion.active.is_(True)).order_by(FitCriterion.id))]
    segments = [{"slug": s.slug, "name": s.name, "rules": s.rules}
                for s in session.scalars(select(Segment).order_by(Segment.priority.desc(), Segment.id))]
    scoring = get_setting(session, "scoring")
    out: dict[str, Any] = {
        "qualification": get_setting(session, "qualification"),
        "scoring": {"half_life_days": scoring.get("half_life_days"), **(
            {"type_caps": scoring["type_caps"]} if scoring.get("type_caps") else {}), "rules": rules},
        "fit": {"grades": get_setting(session, "fit_grades"), "criteria": criteria},
        "segments": segments,
    }
    for section in SETTING_SECTIONS:
        out[section] = get_setting(session, section)
    return out
