"""Behaviour score and fit grade: compute_score, compute_fit, grade_for and the qualification reasons."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from app.domain.qualification.scoring import (Criterion, Rule, ScoredEvent, compute_fit, compute_score, fast_track_reason,
                                grade_for, qualification_reason)

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
PRICING = Rule(1, "Pricing page visit", "page_view", 25, url_pattern="*/pricing*", daily_cap=50)
CAREERS = Rule(2, "Careers page visit", "page_view", -10, url_pattern="*/careers*", daily_cap=10)
PAGE = Rule(3, "Page view", "page_view", 3, daily_cap=30)
OPEN = Rule(4, "Human email open", "email_open", 1)
DEMO = Rule(5, "Demo request", "demo_request", 50)
CLICK = Rule(6, "Click in campaign 7", "email_click", 5, campaign_id=7)
AGREEMENT = [PRICING, CAREERS, PAGE, OPEN, DEMO, CLICK]
SITE = "https://www.brightline.example"
FAST = settings(max_examples=150, deadline=None)


def ev(id, type="page_view", *, ago=timedelta(hours=1), url=None, campaign_id=None, machine=False):
    return ScoredEvent(id, type, NOW - ago, url, campaign_id, machine)


def score(events, rules=AGREEMENT, half_life=None):
    return compute_score(events, rules, now=NOW, half_life_days=half_life)


# --- compute_score: examples ------------------------------------------------------------------------

def test_url_rule_listed_first_wins_over_the_generic_rule():
    """A pricing visit scores the pricing rule's 25 points, not the generic page view's 3."""
    result = score([ev(1, url=f"{SITE}/pricing/bl-series")])
    assert result.total == 25
    assert [r["rule"] for r in result.reasons] == ["Pricing page visit"]


def test_first_matching_rule_wins_even_when_it_is_the_generic_one():
    """Rules are tried in order: a generic rule listed first takes the pricing visit (the README warns of this)."""
    result = score([ev(1, url=f"{SITE}/pricing")], rules=[PAGE, PRICING])
    assert result.total == 3 and [r["rule"] for r in result.reasons] == ["Page view"]


def test_url_patterns_ignore_case_and_other_pages_fall_through():
    """URL globs match regardless of case; a page no glob matches scores the generic rule."""
    result = score([ev(1, url=f"{SITE}/PRICING"), ev(2, url=f"{SITE}/blog/post"), ev(3)])
    assert [r["rule"] for r in result.reasons] == ["Pricing page visit", "Page view", "Page view"]
    assert result.total == 31


def test_campaign_rule_only_scores_its_campaign():
    """A rule tied to a campaign ignores the same event from another campaign."""
    result = score([ev(1, "email_click", campaign_id=7), ev(2, "email_click", campaign_id=8), ev(3, "email_click")])
    assert [r["event_id"] for r in result.reasons] == [1]


def test_unmatched_event_types_score_nothing():
    """An event no rule mentions adds no points and no reason."""
    assert score([ev(1, "webinar_attended")]).total == 0
    assert score([ev(1, "webinar_attended")]).reasons == []


def test_machine_events_never_score():
    """Privacy-proxy opens and scanner clicks are recorded but never scored."""
    result = score([ev(1, "email_open", machine=True), ev(2, "demo_request", machine=True), ev(3, "email_open")])
    assert result.total == 1 and [r["event_id"] for r in result.reasons] == [3]


def test_future_events_are_ignored():
    """An event stamped after now (clock skew) does not count yet; one exactly at now does."""
    result = score([ev(1, "demo_request", ago=-timedelta(minutes=5)), ev(2, "email_open", ago=timedelta(0))])
    assert result.total == 1 and [r["event_id"] for r in result.reasons] == [2]


def test_daily_cap_limits_a_rules_points_per_day():
    """Three pricing visits in a day give 25 + 25 + 0 under a cap of 50; the next day starts afresh."""
    today = [ev(i, url=f"{SITE}/pricing", ago=timedelta(hours=i)) for i in (1, 2, 3)]
    result = score(today + [ev(9, url=f"{SITE}/pricing", ago=timedelta(days=1, hours=1))])
    assert result.total == 75
    assert [r["points"] for r in result.reasons] == [25, 25, 25]
    assert 1 not in [r["event_id"] for r in result.reasons]  # the latest visit today hit the cap


def test_daily_cap_can_grant_part_of_a_rules_points():
    """The visit that reaches the cap scores only what is left under it."""
    capped = Rule(1, "Pricing", "page_view", 25, daily_cap=30)
    result = score([ev(1, ago=timedelta(hours=2)), ev(2, ago=timedelta(hours=1))], rules=[capped])
    assert [r["points"] for r in result.reasons] == [25, 5] and result.total == 30


def test_negative_points_are_not_capped():
    """Caps limit gains only: three careers visits subtract 30 despite a cap of 10."""
    result = score([ev(i, url=f"{SITE}/careers/jobs", ago=timedelta(hours=i)) for i in (1, 2, 3)])
    assert result.total == -30 and len(result.reasons) == 3


def test_an_event_one_half_life_old_counts_half():
    """With a 30-day half-life, 20 points from 30 days ago are worth 10 and 25 points 12.5."""
    result = score([ev(1, "demo_request", ago=timedelta(days=30))], rules=[Rule(5, "Demo", "demo_request", 20)],
                   half_life=30)
    assert result.total == 10 and result.reasons[0]["decayed"] == 10.0 and result.reasons[0]["points"] == 20
    result = score([ev(1, url=f"{SITE}/pricing", ago=timedelta(days=30))], half_life=30)
    assert result.reasons[0]["decayed"] == 12.5
    result = score([ev(1, "demo_request", ago=timedelta(days=60))], half_life=30)
    assert result.reasons[0]["decayed"] == 12.5


def test_no_half_life_means_no_decay():
    """Without a half-life an old event keeps its full points."""
    assert score([ev(1, "demo_request", ago=timedelta(days=400))], half_life=None).total == 50
    assert score([ev(1, "demo_request", ago=timedelta(days=400))], half_life=0).total == 50


def test_reasons_trace_each_point_to_its_event_and_rule():
    """Every reason names the event id, the rule id and name, the event type, points and time."""
    [reason] = score([ev(42, "demo_request", ago=timedelta(days=2))], half_life=30).reasons
    assert reason["event_id"] == 42 and reason["rule_id"] == 5 and reason["rule"] == "Demo request"
    assert reason["event"] == "demo_request" and reason["points"] == 50
    assert reason["at"] == (NOW - timedelta(days=2)).isoformat()
    assert 0 < reason["decayed"] < 50


# --- compute_score: properties ----------------------------------------------------------------------

URLS = [None, f"{SITE}/pricing", f"{SITE}/Pricing/x", f"{SITE}/careers", f"{SITE}/blog", f"{SITE}/careers/pricing"]
TYPES = ["page_view", "email_open", "email_click", "demo_request", "webinar"]


minutes_ago = st.one_of(st.integers(-600, 60 * 24 * 120), st.integers(0, 60 * 24 * 2))  # spread out, or bunched
events_ = st.builds(ScoredEvent, st.integers(1, 10**6), st.sampled_from(TYPES),
                    minutes_ago.map(lambda m: NOW - timedelta(minutes=m)), st.sampled_from(URLS),
                    st.sampled_from([None, 7, 8]), st.booleans())


def event_lists(max_size=25):
    return st.lists(events_, max_size=max_size, unique_by=lambda e: e.id)


half_lives = st.one_of(st.none(), st.floats(0.5, 365))


@FAST
@given(event_lists(), half_lives, st.randoms(use_true_random=False))
def test_score_does_not_depend_on_event_order(events, half_life, rnd):
    """Shuffling the events gives the same total and the same reasons."""
    shuffled = list(events)
    rnd.shuffle(shuffled)
    a, b = score(events, half_life=half_life), score(shuffled, half_life=half_life)
    assert (a.total, a.reasons) == (b.total, b.reasons)


@FAST
@given(event_lists(), half_lives, st.sampled_from(TYPES), st.sampled_from(URLS), st.integers(0, 60 * 24 * 30))
def test_adding_a_machine_event_never_changes_the_score(events, half_life, type, url, minutes):
    """A machine open or scanner click leaves total and reasons untouched."""
    machine = ScoredEvent(10**7, type, NOW - timedelta(minutes=minutes), url, 7, True)
    a, b = score(events, half_life=half_life), score(events + [machine], half_life=half_life)
    assert (a.total, a.reasons) == (b.total, b.reasons)


@FAST
@given(event_lists())
def test_without_decay_or_caps_the_total_is_the_sum_of_matched_points(events):
    """With no half-life and no caps, the score is the plain sum of each counted event's first matching rule."""
    uncapped = [Rule(r.id, r.name, r.event_type, r.points, r.url_pattern, r.campaign_id) for r in AGREEMENT]
    expected = 0
    for e in events:
        if e.is_machine or e.occurred_at > NOW:
            continue
        expected += next((r.points for r in uncapped if r.matches(e)), 0)
    assert score(events, rules=uncapped).total == expected


@FAST
@given(event_lists(max_size=40), half_lives)
def test_caps_bound_each_rules_points_per_day(events, half_life):
    """No rule with a daily cap ever gives more than its cap in one day."""
    caps = {r.id: r.daily_cap for r in AGREEMENT if r.daily_cap and r.points > 0}
    per_day = defaultdict(int)
    for reason in score(events, half_life=half_life).reasons:
        per_day[(reason["rule_id"], reason["at"][:10])] += reason["points"]
    for (rule_id, _day), points in per_day.items():
        if rule_id in caps:
            assert points <= caps[rule_id]


@FAST
@given(event_lists(max_size=40), half_lives)
def test_total_is_the_rounded_sum_of_decayed_reasons(events, half_life):
    """The total matches the sum of the reasons' decayed values, up to rounding, and every reason is traceable."""
    result = score(events, half_life=half_life)
    decayed = sum(r["decayed"] for r in result.reasons)
    assert abs(result.total - decayed) <= 0.5 + 0.005 * len(result.reasons) + 1e-9
    ids = {e.id for e in events if not e.is_machine and e.occurred_at <= NOW}
    names = {r.name: r.id for r in AGREEMENT}
    for reason in result.reasons:
        assert reason["event_id"] in ids and names[reason["rule"]] == reason["rule_id"]
    assert len({r["event_id"] for r in result.reasons}) == len(result.reasons)


# --- fit --------------------------------------------------------------------------------------------

CRITERIA = [
    Criterion(1, "Target industry", "industry", "in", ["manufacturing", "packaging"], 3),
    Criterion(2, "Right size", "company_size", "between", [50, 5000], 3),
    Criterion(3, "Technical title", "title", "contains_any", ["engineer", "architect"], 2),
    Criterion(4, "Budget at least $10,000", "budget", "gte", 10000, 2),
    Criterion(5, "Served country", "country", "in", ["US", "DE"], 2),
]
GRADES = {"A": 80, "B": 60, "C": 40}
CONTACT = {"industry": "packaging", "company_size": 300, "title": "Controls Engineer", "country": "DE",
           "budget": None, "fields": {}}


def test_fit_grades_the_share_of_weight_met():
    """Meeting 10 of 12 weight is 83 %, an A; the README's incomplete record meets 8 of 12 (67 %), a B."""
    full = compute_fit({**CONTACT, "budget": 20000, "country": "FR"}, CRITERIA, GRADES)
    assert (full.grade, full.percent) == ("A", 83)
    partial = compute_fit({**CONTACT, "country": "FR"}, CRITERIA, GRADES)
    assert (partial.grade, partial.percent) == ("B", 67)
    assert compute_fit({"industry": "packaging", "title": "CFO"}, CRITERIA, GRADES).grade == "D"
    assert compute_fit({"industry": "packaging", "company_size": 10, "title": "Engineer"}, CRITERIA, GRADES).grade == "C"


def test_met_and_missed_lists_explain_each_criterion():
    """Each entry carries the criterion's name, its rule in words, the contact's deciding value and weight."""
    fit = compute_fit(CONTACT, CRITERIA, GRADES)
    assert [m["name"] for m in fit.met] == ["Target industry", "Right size", "Technical title", "Served country"]
    size = fit.met[1]
    assert size == {"criterion_id": 2, "name": "Right size", "rule": "company_size between 50 and 5000",
                    "value": 300, "weight": 3}
    [budget] = fit.missed
    assert budget == {"criterion_id": 4, "name": "Budget at least $10,000", "rule": "budget gte 10000",
                      "value": None, "weight": 2}


def test_custom_field_criteria_show_the_custom_value():
    """A criterion on fields.x reads the custom field and reports its value."""
    criterion = Criterion(9, "Has a lab", "fields.lab", "eq", "yes", 1)
    fit = compute_fit({"fields": {"lab": "YES"}}, [criterion], GRADES)
    assert fit.met[0]["value"] == "YES" and fit.grade == "A"


def test_negative_weight_criteria_lower_the_grade_when_met():
    """A met criterion with negative weight subtracts from the share but does not add to the total."""
    penalty = Criterion(6, "Competitor", "fields.competitor", "eq", "yes", -6)
    fit = compute_fit({**CONTACT, "budget": 20000, "fields": {"competitor": "yes"}}, CRITERIA + [penalty], GRADES)
    assert fit.percent == 50 and fit.grade == "C"
    assert fit.met[-1]["name"] == "Competitor"


def test_no_criteria_grades_d():
    """Without any criteria nothing can be met: 0 %, grade D."""
    fit = compute_fit(CONTACT, [], GRADES)
    assert (fit.grade, fit.percent, fit.met, fit.missed) == ("D", 0, [], [])


@pytest.mark.parametrize("percent, grade", [
    (100, "A"), (80, "A"), (79.99, "B"), (60, "B"), (59.99, "C"), (40, "C"), (39.99, "D"), (0, "D"), (-20, "D"),
])
def test_grade_for_boundaries_are_inclusive(percent, grade):
    """A threshold is reached at exactly its percentage."""
    assert grade_for(percent, GRADES) == grade


def test_grade_for_skips_grades_without_threshold():
    """A grade missing from the thresholds is never given."""
    assert grade_for(100, {"B": 60}) == "B"
    assert grade_for(100, {}) == "D"


# --- qualification ----------------------------------------------------------------------------------

THRESHOLD = {"min_score": 100, "grades": ["A", "B"], "fast_track": ["demo_request"]}


@pytest.mark.parametrize("score_, grade, qualified", [
    (100, "A", True), (250, "B", True), (99, "A", False), (500, "C", False), (500, "D", False),
])
def test_qualification_needs_both_score_and_grade(score_, grade, qualified):
    """A contact qualifies when the score reaches min_score and the grade is one of the agreed grades."""
    reason = qualification_reason(score_, grade, THRESHOLD)
    assert (reason is not None) is qualified
    if qualified:
        assert reason == f"score {score_} ≥ 100 and grade {grade}"


def test_fast_track_skips_the_score_not_the_grade():
    """A demo request hands an A or B contact over at once, but never a C; other events don't fast-track."""
    assert fast_track_reason("demo_request", "B", THRESHOLD) == "fast track: demo request by a grade B contact"
    assert fast_track_reason("demo_request", "C", THRESHOLD) is None
    assert fast_track_reason("page_view", "A", THRESHOLD) is None
    assert fast_track_reason("demo_request", "A", {"min_score": 100, "grades": ["A"]}) is None
