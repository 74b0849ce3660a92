"""Every kind of scoring rule, caps, decay, resets and the replay walker, as pure functions."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from app.domain.qualification.scoring import Rule, ScoredEvent, ScoreWalker, compute_score, fast_track_reason

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
SITE = "https://www.brightline.example"
PRICING = Rule(1, "Pricing", "page_view", 25, url_pattern="*/pricing*", daily_cap=50)
PAGE = Rule(2, "Page view", "page_view", 3, daily_cap=30)
CLICK_PRICING = Rule(3, "Pricing click", "email_click", 25, url_pattern="*/pricing*", daily_cap=50)
CLICK = Rule(4, "Click", "email_click", 15, daily_cap=45)
CAMPAIGN = Rule(5, "Webinar click", "email_click", 20, campaign_id=9)
UNSUB = Rule(6, "Unsubscribed", "unsubscribe", -50)
CAREERS = Rule(7, "Careers", "page_view", -10, url_pattern="*/careers*")
THIRTY = Rule(8, "30+ page views", "page_view", 40, kind="milestone", min_count=30, window_days=30)
FREE_MAIL = Rule(9, "Free mail", None, -15, kind="profile",
                 condition={"field": "email_domain", "op": "in", "value": ["gmail.com"]})
COMPETITOR = Rule(10, "Competitor", None, -200, kind="profile",
                  condition={"field": "email_domain", "op": "in", "value": ["servotek.example"]})


def ev(id, type="page_view", *, ago=timedelta(hours=1), url=None, campaign_id=None, machine=False):
    return ScoredEvent(id, type, NOW - ago, url, campaign_id, machine)


def score(events, rules, **kw):
    kw.setdefault("half_life_days", None)
    return compute_score(events, rules, now=NOW, **kw)


def test_link_rules_match_the_clicked_url_and_campaign_rules_their_campaign():
    """A click on a pricing link scores the link rule; a click in campaign 9 its campaign rule."""
    rules = [CLICK_PRICING, CAMPAIGN, CLICK]
    result = score([ev(1, "email_click", url=f"{SITE}/pricing?utm=x"), ev(2, "email_click", url=f"{SITE}/blog",
                                                                        campaign_id=9),
                    ev(3, "email_click", url=f"{SITE}/blog", campaign_id=4)], rules)
    assert [(r["event_id"], r["rule"], r["points"]) for r in result.reasons] == [
        (1, "Pricing click", 25), (2, "Webinar click", 20), (3, "Click", 15)]


def test_negative_points_for_unsubscribe_and_careers_pages():
    """Unsubscribing and visiting the careers page subtract points."""
    result = score([ev(1, "unsubscribe"), ev(2, url=f"{SITE}/careers")], [CAREERS, PAGE, UNSUB])
    assert result.total == -60


def test_type_cap_bounds_all_rules_of_a_type_together():
    """Forty clicks in one afternoon give at most the per-type cap, whatever rules they hit."""
    clicks = [ev(i, "email_click", ago=timedelta(minutes=i), url=f"{SITE}/pricing" if i % 2 else f"{SITE}/x")
              for i in range(1, 41)]
    uncapped = score(clicks, [CLICK_PRICING, CLICK])
    assert uncapped.total == 95  # 50 + 45 from the two rules' own caps
    capped = score(clicks, [CLICK_PRICING, CLICK], type_caps={"email_click": 60})
    assert capped.total == 60
    yesterday = clicks + [ev(99, "email_click", ago=timedelta(days=1), url=f"{SITE}/x")]
    assert score(yesterday, [CLICK_PRICING, CLICK], type_caps={"email_click": 60}).total == 75  # its own day


def test_milestone_scores_once_when_the_count_is_reached():
    """The 30th page view within 30 days earns 40 points once, traced to that view with the count."""
    views = [ev(i, ago=timedelta(hours=i)) for i in range(1, 36)]
    result = score(views, [PAGE, THIRTY])
    milestones = [r for r in result.reasons if r["kind"] == "milestone"]
    assert len(milestones) == 1
    [m] = milestones
    assert (m["rule"], m["points"], m["count"], m["event_id"]) == ("30+ page views", 40, 30, 6)


def test_milestone_window_only_counts_recent_events():
    """29 views spread over months never make 30 within 30 days."""
    sparse = [ev(i, ago=timedelta(days=4 * i)) for i in range(1, 40)]
    assert not [r for r in score(sparse, [THIRTY]).reasons]
    assert score(sparse, [Rule(8, "30 ever", "page_view", 40, kind="milestone", min_count=30)]).total == 40


def test_profile_rules_score_from_the_contact_not_events():
    """A free-mail address costs 15 and a competitor 200, once, without decay, with the deciding value."""
    result = score([ev(1, "demo_request")], [Rule(11, "Demo", "demo_request", 60), FREE_MAIL, COMPETITOR],
                   profile={"email_domain": "gmail.com"}, half_life_days=30)
    assert result.total == 45
    [profile] = [r for r in result.reasons if r["kind"] == "profile"]
    assert profile == {"event_id": None, "rule_id": 9, "rule": "Free mail", "event": "profile", "kind": "profile",
                       "field": "email_domain", "value": "gmail.com", "points": -15, "decayed": -15.0, "at": None}
    assert score([], [FREE_MAIL, COMPETITOR], profile={"email_domain": "servotek.example"}).total == -200


def test_events_before_a_score_reset_no_longer_count():
    """A recycled lead starts over: only events from the reset on score."""
    events = [ev(1, "demo_request", ago=timedelta(days=3)), ev(2, url=f"{SITE}/pricing", ago=timedelta(days=1))]
    result = score(events, [PRICING, Rule(11, "Demo", "demo_request", 60)], reset_at=NOW - timedelta(days=2))
    assert [r["event_id"] for r in result.reasons] == [2] and result.total == 25


def test_fast_track_rules_can_name_a_page_and_grades():
    """A pricing-page visit fast-tracks an A contact only, when the agreement says so."""
    threshold = {"min_score": 100, "grades": ["A", "B"],
                 "fast_track": ["demo_request", {"event": "page_view", "url": "*/pricing*", "grades": ["A"],
                                                 "name": "pricing page visit"}]}
    assert fast_track_reason("page_view", "A", threshold, f"{SITE}/pricing") == "fast track: pricing page visit by a grade A contact"
    assert fast_track_reason("page_view", "B", threshold, f"{SITE}/pricing") is None
    assert fast_track_reason("page_view", "A", threshold, f"{SITE}/blog") is None
    assert fast_track_reason("demo_request", "B", threshold) == "fast track: demo request by a grade B contact"


# --- properties ------------------------------------------------------------------------------------

URLS = [None, f"{SITE}/pricing", f"{SITE}/careers", f"{SITE}/blog", f"{SITE}/case-studies/a"]
TYPES = ["page_view", "email_click", "email_open", "unsubscribe", "demo_request"]
RULES = [PRICING, CAREERS, PAGE, CLICK_PRICING, CAMPAIGN, CLICK, UNSUB, THIRTY,
         Rule(12, "Open", "email_open", 5, daily_cap=15), Rule(13, "Demo", "demo_request", 60),
         Rule(14, "3 case studies", "page_view", 15, url_pattern="*/case-studies/*", kind="milestone", min_count=3)]
FAST = settings(max_examples=120, deadline=None)
events_ = st.builds(ScoredEvent, st.integers(1, 10**6), st.sampled_from(TYPES),
                    st.integers(0, 60 * 24 * 90).map(lambda m: NOW - timedelta(minutes=m)), st.sampled_from(URLS),
                    st.sampled_from([None, 9]), st.booleans())
event_lists = st.lists(events_, max_size=60, unique_by=lambda e: e.id)
half_lives = st.one_of(st.none(), st.floats(0.5, 120))
caps = st.dictionaries(st.sampled_from(["page_view", "email_click"]), st.integers(1, 80), max_size=2)


@FAST
@given(event_lists, caps, half_lives)
def test_type_caps_bound_each_types_points_per_day(events, type_caps, half_life):
    """No event type ever earns more than its type cap in a day from event rules."""
    per_day = defaultdict(int)
    for r in score(events, RULES, type_caps=type_caps, half_life_days=half_life).reasons:
        if r["kind"] == "event" and r["points"] > 0:
            per_day[(r["event"], r["at"][:10])] += r["points"]
    for (event_type, _), points in per_day.items():
        assert points <= type_caps.get(event_type, 10**9)


@FAST
@given(event_lists, half_lives)
def test_each_milestone_is_awarded_at_most_once(events, half_life):
    """Milestones never pay twice, whatever the history."""
    milestones = [r["rule_id"] for r in score(events, RULES, half_life_days=half_life).reasons if r["kind"] == "milestone"]
    assert len(milestones) == len(set(milestones))


@FAST
@given(event_lists, half_lives, st.integers(0, 60 * 24 * 90))
def test_a_reset_equals_forgetting_the_earlier_events(events, half_life, minutes):
    """Scoring with reset_at gives what scoring only the events from reset_at on gives."""
    reset = NOW - timedelta(minutes=minutes)
    later = [e for e in events if e.occurred_at >= reset]
    a = score(events, RULES, half_life_days=half_life, reset_at=reset)
    b = score(later, RULES, half_life_days=half_life)
    assert (a.total, a.reasons) == (b.total, b.reasons)


@FAST
@given(event_lists, half_lives, caps)
def test_recomputation_is_deterministic(events, half_life, type_caps):
    """Scoring the same events twice, in any order, gives the same total and reasons."""
    a = score(events, RULES, half_life_days=half_life, type_caps=type_caps)
    b = score(list(reversed(events)), RULES, half_life_days=half_life, type_caps=type_caps)
    assert (a.total, a.reasons) == (b.total, b.reasons)


@FAST
@given(event_lists, half_lives, caps, st.sampled_from([0, -15]))
def test_the_replay_walker_agrees_with_compute_score_after_every_event(events, half_life, type_caps, profile):
    """At each event's moment, the walker's running score equals a full recomputation up to then."""
    human = sorted((e for e in events if not e.is_machine), key=lambda e: (e.occurred_at, e.id))
    walker = ScoreWalker(RULES, half_life_days=half_life, type_caps=type_caps)
    rules = RULES + ([FREE_MAIL] if profile else [])
    fields = {"email_domain": "gmail.com"}
    for i, event in enumerate(human):
        walker.add(event)
        expected = compute_score(human[:i + 1], rules, now=event.occurred_at, half_life_days=half_life,
                                 type_caps=type_caps, profile=fields).total
        assert walker.total_at(event.occurred_at, extra=profile) == expected


@FAST
@given(st.integers(1, 1000), st.floats(0.5, 365), st.floats(0, 3650))
def test_decay_halves_every_half_life_and_never_flips_sign(points, half_life, age_days):
    """An event's value is points × 0.5^(age / half-life): never above the points, never below zero."""
    event = ScoredEvent(1, "demo_request", NOW - timedelta(days=age_days))
    value = compute_score([event], [Rule(1, "Demo", "demo_request", points)], now=NOW,
                          half_life_days=half_life).reasons[0]["decayed"]
    assert 0 <= value <= points
    assert abs(value - points * 0.5 ** (age_days / half_life)) <= 0.006
