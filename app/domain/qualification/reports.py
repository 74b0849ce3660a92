"""Evidence for tuning the agreement: for each fit criterion, grade and score band, how the leads
handed to sales fared (handoffs, acceptance rate, average rating, win rate), and which criteria
do not predict sales' judgement.

A criterion is evaluated on the contact's current data, so a newly proposed criterion has
evidence too; grade and score are the ones the lead had when it was handed off.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.models import Feedback, Handoff, HandoffStatus

from app.domain.contacts import rules as rules_engine
from app.domain.qualification.agreement import load_agreement
from app.domain.contacts.records import rule_fields
from app.domain.qualification.scoring import Criterion
from app.domain.settings import get_setting

PREDICTS_AT = 10.0  # percentage points of acceptance between met and missed


@dataclass
class Stats:
    handoffs: int = 0
    decided: int = 0
    accepted: int = 0
    rated: int = 0
    rating_sum: int = 0
    closed: int = 0
    won: int = 0

    def add(self, fact: "Fact") -> None:
        self.handoffs += 1
        if fact.decided:
            self.decided += 1
            self.accepted += fact.accepted
        if fact.rating is not None:
            self.rated += 1
            self.rating_sum += fact.rating
        if fact.outcome in ("won", "lost"):
            self.closed += 1
            self.won += fact.outcome == "won"

    @property
    def acceptance(self) -> float | None:
        return round(100.0 * self.accepted / self.decided, 1) if self.decided else None

    @property
    def average_rating(self) -> float | None:
        return round(self.rating_sum / self.rated, 2) if self.rated else None

    @property
    def win_rate(self) -> float | None:
        return round(100.0 * self.won / self.closed, 1) if self.closed else None

    def as_dict(self) -> dict[str, Any]:
        return {"handoffs": self.handoffs, "decided": self.decided, "accepted": self.accepted,
                "acceptance": self.acceptance, "rated": self.rated, "average_rating": self.average_rating,
                "closed": self.closed, "won": self.won, "win_rate": self.win_rate}


@dataclass
class Fact:
    """One handoff as the reports see it."""

    handoff_id: int
    contact_id: int
    at: datetime
    score: int
    grade: str
    status: str
    rating: int | None
    outcome: str | None
    fields: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def decided(self) -> bool:
        return self.status in (HandoffStatus.ACCEPTED, HandoffStatus.REJECTED)

    @property
    def accepted(self) -> bool:
        return self.status == HandoffStatus.ACCEPTED


def handoff_facts(session: Session, *, since: datetime | None = None, until: datetime | None = None) -> list[Fact]:
    query = (select(Handoff).options(joinedload(Handoff.contact)).where(Handoff.status != HandoffStatus.QUEUED)
             .order_by(Handoff.created_at, Handoff.id))
    if since is not None:
        query = query.where(Handoff.created_at >= since)
    if until is not None:
        query = query.where(Handoff.created_at < until)
    handoffs = session.scalars(query).all()
    ratings: dict[int, int] = {}
    for handoff_id, rating in session.execute(
            select(Feedback.handoff_id, Feedback.rating).where(Feedback.rating.is_not(None),
                                                               Feedback.handoff_id.in_([h.id for h in handoffs]))
            .order_by(Feedback.created_at, Feedback.id)):
        ratings[handoff_id] = rating  # the latest rating counts
    return [Fact(h.id, h.contact_id, h.created_at, h.score, h.grade, str(h.status), ratings.get(h.id), h.outcome,
                 rule_fields(h.contact)) for h in handoffs]


def band_labels(bands: Sequence[int]) -> list[tuple[str, int, int | None]]:
    """[50, 100] → [("under 50", -inf…), ("50–99", 50, 100), ("100 and over", 100, None)]."""
    out = [(f"under {bands[0]}", -10**9, bands[0])]
    out += [(f"{low}–{high - 1}", low, high) for low, high in zip(bands, bands[1:])]
    return out + [(f"{bands[-1]} and over", bands[-1], None)]


def verdict(met: Stats, missed: Stats, min_evidence: int) -> tuple[str, float | None]:
    """Does meeting the criterion go with sales accepting the lead?"""
    if met.decided < min_evidence or missed.decided < min_evidence:
        return "not enough evidence", None
    lift = round(met.acceptance - missed.acceptance, 1)
    if lift >= PREDICTS_AT:
        return "predicts", lift
    if lift <= -PREDICTS_AT:
        return "predicts the opposite", lift
    return "does not predict", lift


def criteria_evidence(session: Session, *, since: datetime | None = None, until: datetime | None = None,
                      criteria: Sequence[Criterion] | None = None, facts: list[Fact] | None = None) -> dict[str, Any]:
    config = get_setting(session, "reports")
    min_evidence = int(config.get("min_evidence", 5))
    facts = handoff_facts(session, since=since, until=until) if facts is None else facts
    criteria = load_agreement(session).criteria if criteria is None else criteria
    overall = Stats()
    for fact in facts:
        overall.add(fact)
    rows = []
    for c in criteria:
        met, missed = Stats(), Stats()
        condition = {"field": c.field, "op": c.operator, "value": c.value}
        for fact in facts:
            (met if rules_engine.condition_holds(condition, fact.fields) else missed).add(fact)
        word, lift = verdict(met, missed, min_evidence)
        rating_lift = (round(met.average_rating - missed.average_rating, 2)
                       if met.average_rating is not None and missed.average_rating is not None else None)
        rows.append({"criterion_id": c.id, "name": c.name, "rule": rules_engine.describe(condition), "weight": c.weight,
                     "met": met.as_dict(), "missed": missed.as_dict(), "verdict": word,
                     "acceptance_lift": lift, "rating_lift": rating_lift})
    grades = {g: Stats() for g in "ABCD"}
    bands = band_labels(config.get("score_bands") or [100])
    by_band = {label: Stats() for label, _, _ in bands}
    for fact in facts:
        grades.setdefault(fact.grade, Stats()).add(fact)
        label = next(lbl for lbl, low, high in bands if fact.score >= low and (high is None or fact.score < high))
        by_band[label].add(fact)
    return {
        "since": since.isoformat() if since else None, "until": until.isoformat() if until else None,
        "min_evidence": min_evidence, "overall": overall.as_dict(), "criteria": rows,
        "grades": [{"grade": g, **s.as_dict()} for g, s in grades.items()],
        "score_bands": [{"band": label, **by_band[label].as_dict()} for label, _, _ in bands],
        "not_predictive": [r["name"] for r in rows if r["verdict"] in ("does not predict", "predicts the opposite")],
    }
