"""Checking an agreement document whole: every problem as "where: message", nothing applied until
there are none. The sections: qualification, scoring, fit, segments, handoff, feedback, recycle,
reports (see campaigns/README.md for what each key means)."""
from __future__ import annotations

import re
from typing import Any, Mapping

from app.domain.contacts import rules as rules_engine
from app.domain.settings import DEFAULTS

EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{1,49}$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
SECTIONS = ("qualification", "scoring", "fit", "segments", "handoff", "feedback", "recycle", "reports")
GRADES = ("A", "B", "C", "D")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unknown_keys(data: Mapping, allowed: tuple[str, ...], where: str) -> list[str]:
    return [f"{where}: unknown key {k!r} (use {', '.join(allowed)})" for k in data if k not in allowed]


def validate_agreement(data: Any) -> list[str]:
    """Every problem in an agreement document, each as 'where: message'."""
    if not isinstance(data, Mapping):
        return ["agreement: must be a mapping with " + ", ".join(SECTIONS)]
    problems = _unknown_keys(data, SECTIONS, "agreement")
    checks = {"qualification": _check_qualification, "scoring": _check_scoring, "fit": _check_fit,
              "segments": _check_segments, "handoff": _check_handoff, "feedback": _check_feedback,
              "recycle": lambda v: _check_recycle(v, data.get("feedback")), "reports": _check_reports}
    for section, check in checks.items():
        if data.get(section) is not None:
            problems += check(data[section])
    return problems


def _check_qualification(q: Any) -> list[str]:
    if not isinstance(q, Mapping):
        return ["qualification: must be a mapping with min_score, grades, fast_track, sla_hours"]
    problems = _unknown_keys(q, ("min_score", "grades", "fast_track", "sla_hours"), "qualification")
    if "min_score" in q and not (_whole(q["min_score"]) and q["min_score"] >= 0):
        problems.append(f"qualification.min_score: must be a whole number ≥ 0, got {q['min_score']!r}")
    grades = q.get("grades", ["A"])
    if not (isinstance(grades, list) and grades and all(g in GRADES for g in grades)):
        problems.append(f"qualification.grades: must be a non-empty list of A, B, C, D, got {grades!r}")
    if "sla_hours" in q and not (_number(q["sla_hours"]) and 0 < q["sla_hours"] <= 24 * 30):
        problems.append(f"qualification.sla_hours: must be a number of hours from 1 to 720, got {q['sla_hours']!r}")
    fast = q.get("fast_track") or []
    if not isinstance(fast, list):
        return problems + ["qualification.fast_track: must be a list of event types or {event, url, grades}"]
    for i, entry in enumerate(fast):
        where = f"qualification.fast_track[{i}]"
        if isinstance(entry, str):
            entry = {"event": entry}
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be an event type or a mapping with event, url, grades")
            continue
        problems += _unknown_keys(entry, ("name", "event", "url", "grades"), where)
        if not isinstance(entry.get("event"), str) or not EVENT_TYPE_RE.match(entry["event"]):
            problems.append(f"{where}: event must be an event type such as demo_request, got {entry.get('event')!r}")
        if entry.get("url") is not None and not (isinstance(entry["url"], str) and entry["url"].strip()):
            problems.append(f"{where}: url must be a pattern such as */pricing*")
        g = entry.get("grades")
        if g is not None and not (isinstance(g, list) and g and all(x in GRADES for x in g)):
            problems.append(f"{where}: grades must be a non-empty list of A, B, C, D")
    return problems


RULE_KEYS = ("name", "event", "url", "campaign", "points", "daily_cap", "at_least", "within_days", "when")


def rule_kind(rule: Mapping[str, Any]) -> str:
    if "when" in rule:
        return "profile"
    if "at_least" in rule:
        return "milestone"
    return "event"


def _check_scoring(s: Any) -> list[str]:
    if not isinstance(s, Mapping):
        return ["scoring: must be a mapping with half_life_days, type_caps, rules"]
    problems = _unknown_keys(s, ("half_life_days", "type_caps", "rules"), "scoring")
    h = s.get("half_life_days")
    if h is not None and not (_number(h) and 0 <= h <= 3650):
        problems.append(f"scoring.half_life_days: must be a number of days from 0 (no decay) to 3650, got {h!r}")
    caps = s.get("type_caps") or {}
    if not isinstance(caps, Mapping):
        problems.append("scoring.type_caps: must map event types to the most points per day, e.g. {email_click: 60}")
    else:
        for event_type, cap in caps.items():
            if not isinstance(event_type, str) or not EVENT_TYPE_RE.match(event_type):
                problems.append(f"scoring.type_caps: {event_type!r} is not an event type")
            if not (_whole(cap) and cap > 0):
                problems.append(f"scoring.type_caps.{event_type}: must be a whole number > 0, got {cap!r}")
    rules = s.get("rules")
    if rules is None:
        return problems
    if not isinstance(rules, list):
        return problems + ["scoring.rules: must be a list of rules"]
    names: set[str] = set()
    generic: dict[str, str] = {}
    for i, rule in enumerate(rules):
        where = f"scoring.rules[{i}]"
        if not isinstance(rule, Mapping):
            problems.append(f"{where}: must be a mapping with name, event, points")
            continue
        if isinstance(rule.get("name"), str) and rule["name"].strip():
            where += f" ({rule['name']})"
        problems += _check_rule(rule, where, names)
        kind = rule_kind(rule)
        if kind == "event" and isinstance(rule.get("event"), str):
            if rule["event"] in generic and (rule.get("url") or rule.get("campaign")):
                problems.append(f"{where}: never scores: the rule {generic[rule['event']]!r} above takes every "
                                f"{rule['event']} first (put specific rules before the generic one)")
            if not rule.get("url") and not rule.get("campaign"):
                generic.setdefault(rule["event"], rule.get("name") or rule["event"])
    return problems


def _check_rule(rule: Mapping[str, Any], where: str, names: set[str]) -> list[str]:
    problems = _unknown_keys(rule, RULE_KEYS, where)
    name = rule.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        problems.append(f"{where}: name is required (what sales reads next to the points), at most 200 characters")
    elif name in names:
        problems.append(f"{where}: another rule is already named {name!r}; names must be unique")
    else:
        names.add(name)
    if not (_whole(rule.get("points")) and rule["points"] != 0 and abs(rule["points"]) <= 10_000):
        problems.append(f"{where}: points must be a whole number other than 0 (negative allowed), got {rule.get('points')!r}")
    kind = rule_kind(rule)
    if kind == "profile":
        for key in ("event", "url", "campaign", "daily_cap", "at_least", "within_days"):
            if key in rule:
                problems.append(f"{where}: a profile rule (with 'when') takes no {key}")
        when = rule.get("when")
        if not isinstance(when, Mapping):
            problems.append(f"{where}: when must be one condition {{field, op, value}}")
        else:
            problems += rules_engine.validate_condition(when, f"{where}.when")
        return problems
    if not isinstance(rule.get("event"), str) or not EVENT_TYPE_RE.match(rule["event"]):
        problems.append(f"{where}: event must be an event type such as page_view, got {rule.get('event')!r}")
    if rule.get("url") is not None and not (isinstance(rule["url"], str) and rule["url"].strip()):
        problems.append(f"{where}: url must be a pattern such as */pricing*")
    if rule.get("campaign") is not None and not (isinstance(rule["campaign"], str) and SLUG_RE.match(rule["campaign"])):
        problems.append(f"{where}: campaign must be a campaign slug such as engineer-nurture")
    if kind == "milestone":
        if "daily_cap" in rule:
            problems.append(f"{where}: a milestone (with at_least) scores once; it takes no daily_cap")
        if not (_whole(rule["at_least"]) and 1 <= rule["at_least"] <= 100_000):
            problems.append(f"{where}: at_least must be a whole number ≥ 1, got {rule['at_least']!r}")
        w = rule.get("within_days")
        if w is not None and not (_whole(w) and 1 <= w <= 3650):
            problems.append(f"{where}: within_days must be a whole number of days ≥ 1, got {w!r}")
    else:
        if "within_days" in rule:
            problems.append(f"{where}: within_days goes with at_least (a milestone)")
        cap = rule.get("daily_cap")
        if cap is not None and not (_whole(cap) and cap > 0):
            problems.append(f"{where}: daily_cap must be a whole number > 0, got {cap!r}")
    return problems


def _check_fit(f: Any) -> list[str]:
    if not isinstance(f, Mapping):
        return ["fit: must be a mapping with grades and criteria"]
    problems = _unknown_keys(f, ("grades", "criteria"), "fit")
    grades = f.get("grades")
    if grades is not None:
        if not isinstance(grades, Mapping) or set(grades) - {"A", "B", "C"} or not all(
                _number(v) and 0 <= v <= 100 for v in grades.values()):
            problems.append(f"fit.grades: must map A, B and C to percentages from 0 to 100, got {grades!r}")
        elif not grades.get("A", 100) >= grades.get("B", 0) >= grades.get("C", 0):
            problems.append(f"fit.grades: A ≥ B ≥ C is required, got {dict(grades)}")
    criteria = f.get("criteria")
    if criteria is None:
        return problems
    if not isinstance(criteria, list):
        return problems + ["fit.criteria: must be a list of criteria"]
    names: set[str] = set()
    for i, c in enumerate(criteria):
        where = f"fit.criteria[{i}]"
        if not isinstance(c, Mapping):
            problems.append(f"{where}: must be a mapping with name, field, op, value, weight")
            continue
        if isinstance(c.get("name"), str) and c["name"].strip():
            where += f" ({c['name']})"
        problems += _unknown_keys(c, ("name", "field", "op", "value", "weight"), where)
        name = c.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            problems.append(f"{where}: name is required (sales reads it in the lead report)")
        elif name in names:
            problems.append(f"{where}: another criterion is already named {name!r}")
        else:
            names.add(name)
        problems += rules_engine.validate_condition(c, where)
        weight = c.get("weight", 1)
        if not (_whole(weight) and weight != 0 and abs(weight) <= 1000):
            problems.append(f"{where}: weight must be a whole number other than 0, got {weight!r}")
    if criteria and not any(_whole(c.get("weight", 1)) and c.get("weight", 1) > 0
                            for c in criteria if isinstance(c, Mapping)):
        problems.append("fit.criteria: at least one criterion needs a positive weight, or every contact grades D")
    return problems


def _check_segments(segments: Any) -> list[str]:
    if not isinstance(segments, list):
        return ["segments: must be a list of {slug, name, rules}"]
    problems = []
    for i, s in enumerate(segments):
        if not isinstance(s, Mapping) or not isinstance(s.get("slug"), str) or not SLUG_RE.match(s["slug"]):
            problems.append(f"segments[{i}]: needs a slug (lower-case letters, digits, hyphens) and rules")
            continue
        problems += rules_engine.validate(s.get("rules"), f"segments[{i}].rules")
    return problems


def _check_handoff(h: Any) -> list[str]:
    if not isinstance(h, Mapping):
        return ["handoff: must be a mapping with sla_action, max_reassignments, weekly_cap"]
    problems = _unknown_keys(h, ("sla_action", "max_reassignments", "weekly_cap"), "handoff")
    if h.get("sla_action", "escalate") not in ("escalate", "reassign"):
        problems.append(f"handoff.sla_action: must be escalate or reassign, got {h.get('sla_action')!r}")
    m = h.get("max_reassignments", 1)
    if not (_whole(m) and 0 <= m <= 10):
        problems.append(f"handoff.max_reassignments: must be a whole number from 0 to 10, got {m!r}")
    cap = h.get("weekly_cap")
    if cap is not None and not (_whole(cap) and cap >= 1):
        problems.append(f"handoff.weekly_cap: must be a whole number ≥ 1, or left out for no cap, got {cap!r}")
    return problems


def _reason_list(value: Any, where: str) -> list[str]:
    if not (isinstance(value, list) and value and all(isinstance(v, str) and 0 < len(v.strip()) <= 100 for v in value)):
        return [f"{where}: must be a non-empty list of reasons (text of at most 100 characters)"]
    if len(set(value)) != len(value):
        return [f"{where}: lists a reason twice"]
    return []


def _check_feedback(f: Any) -> list[str]:
    if not isinstance(f, Mapping):
        return ["feedback: must be a mapping with reject_reasons, accept_reasons, lost_reasons"]
    keys = ("reject_reasons", "accept_reasons", "lost_reasons")
    return _unknown_keys(f, keys, "feedback") + [p for k in keys if k in f for p in _reason_list(f[k], f"feedback.{k}")]


def _check_recycle(r: Any, feedback: Any) -> list[str]:
    if not isinstance(r, Mapping):
        return ["recycle: must be a mapping with campaign, on_reject, on_lost"]
    problems = _unknown_keys(r, ("campaign", "on_reject", "on_lost"), "recycle")
    if not (isinstance(r.get("campaign", "recycle"), str) and SLUG_RE.match(r.get("campaign", "recycle"))):
        problems.append("recycle.campaign: must be the slug of a campaign of kind recycle")
    feedback = feedback if isinstance(feedback, Mapping) else {}
    for key, source in (("on_reject", "reject_reasons"), ("on_lost", "lost_reasons")):
        listed = r.get(key) or []
        known = feedback.get(source) or DEFAULTS["feedback"][source]
        if not isinstance(listed, list):
            problems.append(f"recycle.{key}: must be a list of reasons from feedback.{source}")
            continue
        for reason in listed:
            if reason not in known:
                problems.append(f"recycle.{key}: {reason!r} is not one of feedback.{source}")
    return problems


def _check_reports(r: Any) -> list[str]:
    if not isinstance(r, Mapping):
        return ["reports: must be a mapping with min_evidence, target_acceptance, score_bands"]
    problems = _unknown_keys(r, ("min_evidence", "target_acceptance", "score_bands"), "reports")
    if "min_evidence" in r and not (_whole(r["min_evidence"]) and 1 <= r["min_evidence"] <= 1000):
        problems.append("reports.min_evidence: must be a whole number from 1 to 1000")
    if "target_acceptance" in r and not (_number(r["target_acceptance"]) and 1 <= r["target_acceptance"] <= 100):
        problems.append("reports.target_acceptance: must be a percentage from 1 to 100")
    bands = r.get("score_bands", [0])
    if not (isinstance(bands, list) and bands and all(_whole(b) for b in bands) and bands == sorted(set(bands))):
        problems.append("reports.score_bands: must be a non-empty list of rising whole numbers, e.g. [50, 100, 150]")
    return problems


def campaign_problems(data: Mapping[str, Any], known: set[str]) -> list[str]:
    """Campaigns named by scoring rules or the recycle section that do not exist."""
    problems = []
    scoring = data.get("scoring") if isinstance(data.get("scoring"), Mapping) else {}
    rules = scoring.get("rules") if isinstance(scoring.get("rules"), list) else []  # other shapes: reported by the checks
    for i, rule in enumerate(rules):
        slug = rule.get("campaign") if isinstance(rule, Mapping) else None
        if isinstance(slug, str) and slug not in known:
            problems.append(f"scoring.rules[{i}]: campaign {slug!r} is not defined")
    slug = (data.get("recycle") or {}).get("campaign") if isinstance(data.get("recycle"), Mapping) else None
    if isinstance(slug, str) and slug not in known:
        problems.append(f"recycle.campaign: campaign {slug!r} is not defined")
    return problems
