"""Evidence per criterion, grade and score band; the what-if replay; suggestions that are only proposals."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.domain.qualification.agreement import agreement_data, proposed_agreement
from app.domain.handoff.feedback import record_outcome, respond
from app.domain.qualification.reports import Fact, Stats, band_labels, criteria_evidence, verdict
from app.domain.qualification.whatif import replay, suggest, suggest_threshold
from app.models import FitCriterion

from .conftest import SITE


@pytest.fixture
def history(rep, lead, synced, clock):
    """Twelve leads: sales accepts the six in served countries and rejects the six in Japan;
    budget is known for half of each, so it says nothing about acceptance."""
    alex = rep("alex")
    handoffs = []
    for i in range(12):
        clock.advance(timedelta(hours=5))
        served = i % 2 == 0
        fields = {"country": "US" if served else "JP", "budget": 50000 if i % 4 in (0, 1) else None}
        handoff = lead(f"lead{i}@company{i}.example", **fields)
        respond(synced, handoff, alex, accept=served, rating=5 if served else 2,
                reasons=[] if served else ["no need"], comment="", now=clock.now())
        if served and i % 4 == 0:
            record_outcome(synced, handoff, alex, outcome="won", amount=10000, now=clock.now())
        handoffs.append(handoff)
    synced.commit()
    return handoffs


def test_evidence_per_criterion_finds_what_predicts_and_what_does_not(history, synced):
    """Served country predicts acceptance; budget does not; industry has no 'missed' side to compare."""
    report = criteria_evidence(synced)
    rows = {r["name"]: r for r in report["criteria"]}
    country = rows["Served country"]
    assert (country["met"]["handoffs"], country["met"]["acceptance"], country["missed"]["acceptance"]) == (6, 100.0, 0.0)
    assert (country["verdict"], country["acceptance_lift"]) == ("predicts", 100.0)
    assert country["met"]["average_rating"] == 5.0 and country["missed"]["average_rating"] == 2.0
    assert country["met"]["win_rate"] == 100.0 and country["met"]["won"] == 3
    budget = rows["Budget at least $10,000"]
    assert (budget["met"]["acceptance"], budget["missed"]["acceptance"], budget["verdict"]) == (50.0, 50.0,
                                                                                              "does not predict")
    assert rows["Target industry"]["verdict"] == "not enough evidence"
    assert report["not_predictive"] == ["Budget at least $10,000"]
    assert report["overall"]["handoffs"] == 12 and report["overall"]["acceptance"] == 50.0
    grades = {g["grade"]: g for g in report["grades"]}
    assert grades["A"]["handoffs"] + grades["B"]["handoffs"] == 12
    assert sum(b["handoffs"] for b in report["score_bands"]) == 12


def test_verdicts_and_bands_are_plain_arithmetic():
    """Ten points of acceptance either way decide; bands cover every score once."""
    def stats(decided, accepted):
        s = Stats()
        s.decided, s.accepted = decided, accepted
        return s
    assert verdict(stats(10, 8), stats(10, 2), 5) == ("predicts", 60.0)
    assert verdict(stats(10, 2), stats(10, 8), 5) == ("predicts the opposite", -60.0)
    assert verdict(stats(10, 5), stats(10, 5), 5) == ("does not predict", 0.0)
    assert verdict(stats(4, 4), stats(10, 0), 5) == ("not enough evidence", None)
    assert [b[0] for b in band_labels([50, 100])] == ["under 50", "50–99", "100 and over"]


def test_replay_shows_when_a_proposal_would_hand_off_next_to_what_sales_said(history, synced, clock):
    """Fast-tracking grade A only drops the Japanese leads sales rejected and keeps the accepted ones."""
    proposal = proposed_agreement(synced, {"qualification": {"fast_track": [{"event": "demo_request", "grades": ["A"]}]}})
    result = replay(synced, proposal, now=clock.now())
    s = result["summary"]
    assert (s["actual"], s["proposed"], s["both"]) == (12, 9, 9)
    assert (s["accepted_kept"], s["accepted_dropped"], s["rejected_kept"], s["rejected_dropped"]) == (6, 0, 3, 3)
    assert s["rating_kept"] > s["rating_dropped"] == 2.0
    first = result["leads"][0]
    assert first["proposed_at"] == first["actual_at"] and first["proposed_reason"].startswith("fast track")


def test_replay_with_a_lower_threshold_finds_leads_sales_never_saw(rep, contact, event, synced, clock):
    """A contact who reached 50 points last week would be handed off under min_score 50: when, and why."""
    rep("alex")
    found = contact("quiet@watcher.example")
    event(found, "page_view", url=f"{SITE}/pricing", ago=timedelta(days=7))
    event(found, "page_view", url=f"{SITE}/pricing", ago=timedelta(days=7, hours=-1))
    assert found.stage == "nurturing"
    result = replay(synced, proposed_agreement(synced, {"qualification": {"min_score": 50}}), now=clock.now())
    [row] = result["leads"]
    assert row["contact_id"] == found.id and row["handoff_id"] is None
    assert row["proposed_at"] == (clock.now() - timedelta(days=6, hours=23)).isoformat()
    assert row["proposed_reason"] == "score 50 ≥ 50 and grade A" and result["summary"]["new"] == 1
    window = replay(synced, proposed_agreement(synced, {"qualification": {"min_score": 50}}), now=clock.now(),
                    since=clock.now() - timedelta(days=3))
    assert window["leads"] == []


def test_suggestions_are_a_proposal_and_change_nothing(history, synced):
    """Feedback suggests dropping budget and weighing served country more; the agreement is untouched."""
    before = agreement_data(synced)
    proposal = suggest(synced)
    changes = {c["criterion"]: c for c in proposal["criteria"]}
    assert changes["Budget at least $10,000"]["suggested"] is None
    assert changes["Served country"]["suggested"] == 2
    names = [c["name"] for c in proposal["agreement"]["fit"]["criteria"]]
    assert "Budget at least $10,000" not in names and proposal["changed"]
    assert agreement_data(synced) == before
    assert synced.scalar(select(FitCriterion.weight).where(FitCriterion.name == "Served country")) == 1
    assert proposed_agreement(synced, proposal["agreement"]) is not None  # a valid agreement to try


def test_threshold_suggestion_raises_only_with_evidence():
    """The lowest score at which sales accepted ≥ target; too little evidence keeps the threshold."""
    def fact(score, accepted):
        return Fact(0, 0, None, score, "A", "accepted" if accepted else "rejected", None, None)
    facts = [fact(100 + i, False) for i in range(5)] + [fact(150 + i, True) for i in range(5)]
    assert suggest_threshold(facts, 100, 60, 5)["min_score"] == 102  # 5 of 8 from 102 up: 62.5 %
    assert suggest_threshold(facts, 100, 90, 5)["min_score"] == 150
    assert suggest_threshold(facts[:3], 100, 60, 5)["min_score"] == 100
    assert suggest_threshold([fact(200, True)] * 6, 100, 60, 5)["why"].startswith("keep")
