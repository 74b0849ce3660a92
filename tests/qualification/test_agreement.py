"""The agreement as data: validated whole with clear errors, applied, exported, and driving fit."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from app.domain.qualification.agreement import agreement_data, apply_agreement, proposed_agreement, validate_agreement
from app.domain.campaigns.sync import SyncError, sync_directory
from app.domain.contacts.profile import region_of, seniority_of
from app.domain.qualification.scoring import Criterion, compute_fit
from app.models import FitCriterion, ScoringRule

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load((ROOT / "campaigns" / "agreement.yml").read_text())


def with_(path: str, value):
    """The shipped agreement with one value replaced: with_("scoring.rules.0.points", 0)."""
    data = copy.deepcopy(SHIPPED)
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[int(last) if last.isdigit() else last] = value
    return data


def test_the_shipped_agreement_is_valid():
    """campaigns/agreement.yml passes validation."""
    assert validate_agreement(SHIPPED) == []


@pytest.mark.parametrize("path, value, message", [
    ("qualification.min_score", "lots", "qualification.min_score: must be a whole number ≥ 0, got 'lots'"),
    ("qualification.grades", ["A", "E"], "qualification.grades: must be a non-empty list of A, B, C, D"),
    ("qualification.sla_hours", 0, "qualification.sla_hours: must be a number of hours from 1 to 720"),
    ("qualification.fast_track", [{"event": "Page View"}], "qualification.fast_track[0]: event must be an event type"),
    ("scoring.half_life_days", -3, "scoring.half_life_days: must be a number of days from 0"),
    ("scoring.type_caps", {"email_click": 0}, "scoring.type_caps.email_click: must be a whole number > 0"),
    ("scoring.rules.0.points", 0, "scoring.rules[0] (Pricing page visit): points must be a whole number other than 0"),
    ("scoring.rules.0.daily_cap", -1, "scoring.rules[0] (Pricing page visit): daily_cap must be a whole number > 0"),
    ("scoring.rules.6.name", "Pricing page visit", "(Pricing page visit): another rule is already named 'Pricing page visit'"),
    ("scoring.rules.0.colour", "red", "scoring.rules[0] (Pricing page visit): unknown key 'colour'"),
    ("scoring.rules.0.event", None, "scoring.rules[0] (Pricing page visit): event must be an event type"),
    ("fit.grades", {"A": 50, "B": 60, "C": 40}, "fit.grades: A ≥ B ≥ C is required"),
    ("fit.criteria.0.op", "around", "fit.criteria[0] (Target industry): unknown op 'around'"),
    ("fit.criteria.0.weight", 0, "fit.criteria[0] (Target industry): weight must be a whole number other than 0"),
    ("fit.criteria.1.value", [5000, 50], "op between needs [low, high] numbers with low ≤ high"),
    ("fit.criteria.0.field", "shoe_size", "unknown field 'shoe_size'"),
    ("handoff.sla_action", "shrug", "handoff.sla_action: must be escalate or reassign"),
    ("handoff.weekly_cap", 0, "handoff.weekly_cap: must be a whole number ≥ 1"),
    ("feedback.reject_reasons", [], "feedback.reject_reasons: must be a non-empty list of reasons"),
    ("recycle.on_reject", ["moon phase"], "recycle.on_reject: 'moon phase' is not one of feedback.reject_reasons"),
    ("reports.score_bands", [100, 50], "reports.score_bands: must be a non-empty list of rising whole numbers"),
])
def test_validation_names_the_place_and_the_problem(path, value, message):
    """Each mistake is reported with where it is and what is expected."""
    problems = validate_agreement(with_(path, value))
    assert any(message in p for p in problems), problems


def test_a_specific_rule_after_the_generic_one_is_refused():
    """A URL rule listed after the generic rule for the same event could never score: sync says so."""
    data = copy.deepcopy(SHIPPED)
    rules = data["scoring"]["rules"]
    generic = next(r for r in rules if r["name"] == "Page view")
    rules.remove(generic)
    rules.insert(0, generic)
    problems = validate_agreement(data)
    assert any("(Pricing page visit): never scores: the rule 'Page view' above takes every page_view first" in p
               for p in problems), problems


def test_milestone_and_profile_rules_are_checked_for_their_own_keys():
    """A milestone takes no daily cap; a profile rule takes no event and needs a valid condition."""
    data = copy.deepcopy(SHIPPED)
    data["scoring"]["rules"] += [{"name": "M", "event": "page_view", "at_least": 0, "daily_cap": 5, "points": 5},
                                 {"name": "P", "event": "page_view", "when": {"field": "email", "op": "in"},
                                  "points": -5}]
    problems = validate_agreement(data)
    assert any("(M): a milestone (with at_least) scores once; it takes no daily_cap" in p for p in problems)
    assert any("(M): at_least must be a whole number ≥ 1" in p for p in problems)
    assert any("(P): a profile rule (with 'when') takes no event" in p for p in problems)
    assert any("(P).when: op in needs a non-empty list value" in p for p in problems)


def test_sync_refuses_a_bad_agreement_with_file_and_line(session, services, clock, tmp_path):
    """Nothing is applied and each problem names agreement.yml and the line of the rule."""
    import shutil

    library = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", library)
    text = (library / "agreement.yml").read_text()
    (library / "agreement.yml").write_text(text.replace("points: 30}", "points: thirty}")
                                           .replace("campaign: recycle", "campaign: recycling"))
    with pytest.raises(SyncError) as refused:
        sync_directory(session, library, templates_dir=ROOT / "templates", postal_address="x", now=clock.now())
    problems = refused.value.problems
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "Form submitted" in l)
    assert any(p.startswith(f"{library / 'agreement.yml'}:{line}: scoring.rules[") and "(Form submitted)" in p
               for p in problems), problems
    assert any("recycle.campaign: campaign 'recycling' is not defined" in p for p in problems)
    assert session.scalar(select(ScoringRule.id)) is None


def test_applying_then_reading_back_gives_the_same_document(synced, clock):
    """agreement_data returns every section as the file has it, so the page and export round-trip."""
    data = agreement_data(synced)
    assert data["scoring"]["type_caps"] == {"email_click": 60, "page_view": 75}
    rules = {r["name"]: r for r in data["scoring"]["rules"]}
    assert rules["30+ page views in 30 days"] == {"name": "30+ page views in 30 days", "event": "page_view",
                                                  "at_least": 30, "within_days": 30, "points": 40}
    assert rules["Competitor"]["when"]["field"] == "email_domain"
    assert data["recycle"]["on_reject"] == ["bad timing"]
    assert apply_agreement(synced, data, clock.now()) == 0
    changed = copy.deepcopy(data)
    changed["qualification"]["min_score"] = 120
    assert apply_agreement(synced, changed, clock.now()) == 1
    assert agreement_data(synced)["qualification"]["min_score"] == 120


def test_a_proposal_fills_missing_sections_from_the_agreement_in_force(synced):
    """A what-if proposal with only a threshold keeps the current rules and criteria."""
    proposal = proposed_agreement(synced, {"qualification": {"min_score": 150}})
    assert proposal.qualification["min_score"] == 150 and proposal.qualification["grades"] == ["A", "B"]
    assert len(proposal.criteria) == synced.query(FitCriterion).count()
    assert any(r.kind == "milestone" for r in proposal.rules)


@pytest.mark.parametrize("title, level", [
    ("VP Operations", "vp"), ("Vice President, Supply Chain", "vp"), ("Chief Procurement Officer", "executive"),
    ("CEO", "executive"), ("Managing Director", "executive"), ("Director of Engineering", "director"),
    ("Head of Automation", "director"), ("Plant Manager", "manager"), ("Purchasing Lead", "manager"),
    ("Senior Controls Engineer", "individual"), ("Product Owner", "individual"), ("", None),
])
def test_seniority_comes_from_title_words(title, level):
    """Seniority reads whole words in order: vice president before president, managing director as executive."""
    assert seniority_of(title) == level


def test_regions_and_seniority_work_as_fit_criteria():
    """Criteria on derived fields show the derived value as the evidence."""
    criteria = [Criterion(1, "Senior buyer", "seniority", "in", ["executive", "vp", "director"], 2),
                Criterion(2, "Served region", "region", "in", ["NA", "EMEA"], 1),
                Criterion(3, "Uses our PLC", "fields.plc", "contains_any", ["siemens"], 1)]
    fit = compute_fit({"title": "VP Engineering", "country": "de", "fields": {"plc": "Siemens S7"}}, criteria,
                      {"A": 80, "B": 60, "C": 40})
    assert [(m["name"], m["value"]) for m in fit.met] == [("Senior buyer", "vp"), ("Served region", "EMEA"),
                                                         ("Uses our PLC", "Siemens S7")]
    assert region_of("JP") == "APAC" and region_of("BR") == "LATAM" and region_of("??") is None


def test_free_mail_and_competitor_rules_score_live_contacts(contact):
    """The shipped profile rules: a gmail address loses 15 points, a competitor 200, with the reason."""
    gmail = contact("someone@gmail.com")
    assert gmail.score == -15 and gmail.score_reasons[0]["rule"] == "Free-mail address"
    rival = contact("spy@servotek.example")
    assert rival.score == -200 and rival.score_reasons[0]["value"] == "servotek.example"


def test_saving_part_of_the_agreement_keeps_the_rest(synced, clock):
    """A document naming only min_score leaves grades, SLA and rules as they were."""
    from app.domain.qualification.agreement import merged_with_current

    apply_agreement(synced, with_("qualification.sla_hours", 12), clock.now())
    apply_agreement(synced, merged_with_current(synced, {"qualification": {"min_score": 130}}), clock.now())
    data = agreement_data(synced)
    assert data["qualification"]["min_score"] == 130 and data["qualification"]["sla_hours"] == 12
    assert len(data["scoring"]["rules"]) == len(SHIPPED["scoring"]["rules"])
