"""What-if replay: a proposed agreement applied to the recorded history, before anyone saves it.

For every contact, its human events are fed in time order through the proposed rules; the first
moment the proposal's threshold (or a fast-track rule) is met is when it would have been handed
off. That is shown next to what really happened and what sales said. Fit is evaluated on the
contact's current data (history of field values is not kept), and score resets from recycling
are ignored: the replay asks "when would this lead first have gone to sales?".

Suggestions drawn from sales' feedback are a proposal only: nothing here writes the agreement.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Contact, Event, Handoff, HandoffStatus

from app.domain.qualification.agreement import Agreement, agreement_data, load_agreement
from app.domain.contacts.records import rule_fields
from app.domain.qualification.reports import Fact, criteria_evidence, handoff_facts
from app.domain.qualification.qualify import qualifying_reason
from app.domain.qualification.scoring import ScoredEvent, ScoreWalker, compute_fit, profile_awards
from app.domain.settings import get_setting

CHUNK = 2000


def first_qualifying_moment(agreement: Agreement, fields: dict[str, Any], events: list[ScoredEvent], *,
                            until: datetime) -> tuple[datetime, str, int, str] | None:
    """(when, why, score, grade) the agreement would first have handed this contact off, or None."""
    grade = compute_fit(fields, agreement.prepared_criteria, agreement.grades).grade
    q = agreement.qualification
    if grade not in q["grades"]:
        return None
    profile = float(sum(rule.points for rule, _ in profile_awards(agreement.rules, fields)))
    walker = ScoreWalker(agreement.rules, half_life_days=agreement.half_life_days, type_caps=agreement.type_caps)
    for event in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        if event.occurred_at > until:
            break
        walker.add(event)
        score = walker.total_at(event.occurred_at, extra=profile)
        reason = qualifying_reason(q, score, grade, [(event.type, event.url)])
        if reason:
            return event.occurred_at, reason, score, grade
    return None


def _first_handoffs(session: Session, contact_ids: list[int]) -> dict[int, Handoff]:
    first: dict[int, Handoff] = {}
    for h in session.scalars(select(Handoff).where(Handoff.contact_id.in_(contact_ids))
                             .order_by(Handoff.created_at, Handoff.id)):
        first.setdefault(h.contact_id, h)
    return first


def replay(session: Session, proposal: Agreement, *, now: datetime, since: datetime | None = None,
           until: datetime | None = None, limit: int = 500) -> dict[str, Any]:
    """Which leads the proposal would have handed off in [since, until), and when, next to reality."""
    until = min(until or now, now)
    facts = {f.contact_id: f for f in reversed(handoff_facts(session))}  # the first handoff per contact
    rows: list[dict[str, Any]] = []
    after = 0
    while True:
        contacts = session.scalars(select(Contact).where(Contact.id > after).order_by(Contact.id).limit(CHUNK)).all()
        if not contacts:
            break
        after = contacts[-1].id
        events: dict[int, list[ScoredEvent]] = defaultdict(list)
        for row in session.execute(select(Event.contact_id, Event.id, Event.type, Event.occurred_at, Event.url,
                                          Event.campaign_id).where(Event.contact_id.in_([c.id for c in contacts]),
                                                                   Event.is_machine.is_(False))):
            events[row[0]].append(ScoredEvent(row[1], row[2], row[3], row[4], row[5], False))
        actual = _first_handoffs(session, [c.id for c in contacts])
        for contact in contacts:
            moment = first_qualifying_moment(proposal, rule_fields(contact), events.get(contact.id, []), until=until)
            would = moment is not None and (since is None or moment[0] >= since)
            real = actual.get(contact.id)
            was = real is not None and (since is None or real.created_at >= since) and real.created_at <= until
            if would or was:
                rows.append(_row(contact, moment if would else None, real if was else None, facts.get(contact.id)))
        for contact in contacts:  # keep memory flat on big histories
            session.expunge(contact)
    rows.sort(key=lambda r: r["proposed_at"] or r["actual_at"] or "")
    return {"since": since.isoformat() if since else None, "until": until.isoformat(),
            "summary": summarize(rows), "leads": rows[:limit], "truncated": max(0, len(rows) - limit)}


def _row(contact: Contact, moment, real: Handoff | None, fact: Fact | None) -> dict[str, Any]:
    return {
        "contact_id": contact.id, "contact": contact.name, "company": contact.company,
        "proposed_at": moment[0].isoformat() if moment else None, "proposed_reason": moment[1] if moment else None,
        "proposed_score": moment[2] if moment else None, "proposed_grade": moment[3] if moment else None,
        "handoff_id": real.id if real else None, "actual_at": real.created_at.isoformat() if real else None,
        "actual_reason": real.reason if real else None, "status": str(real.status) if real else None,
        "rating": fact.rating if fact and real and fact.handoff_id == real.id else None,
        "outcome": real.outcome if real else None,
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    proposed = [r for r in rows if r["proposed_at"]]
    actual = [r for r in rows if r["handoff_id"]]
    both = [r for r in rows if r["proposed_at"] and r["handoff_id"]]
    dropped = [r for r in actual if not r["proposed_at"]]

    def count(group, key, value):
        return sum(1 for r in group if r[key] == value)

    def mean_rating(group):
        ratings = [r["rating"] for r in group if r["rating"] is not None]
        return round(sum(ratings) / len(ratings), 2) if ratings else None

    return {
        "proposed": len(proposed), "actual": len(actual), "both": len(both),
        "new": len(proposed) - len(both), "dropped": len(dropped),
        "accepted_kept": count(both, "status", HandoffStatus.ACCEPTED),
        "accepted_dropped": count(dropped, "status", HandoffStatus.ACCEPTED),
        "rejected_kept": count(both, "status", HandoffStatus.REJECTED),
        "rejected_dropped": count(dropped, "status", HandoffStatus.REJECTED),
        "won_kept": count(both, "outcome", "won"), "won_dropped": count(dropped, "outcome", "won"),
        "rating_kept": mean_rating(both), "rating_dropped": mean_rating(dropped),
    }


# --- suggestions from the feedback -------------------------------------------------------------------

def suggest_threshold(facts: list[Fact], current: int, target: float, min_evidence: int) -> dict[str, Any]:
    """The lowest min_score at which sales accepted at least `target` % of the decided handoffs.
    Only raising can be learnt: leads below the threshold were never shown to sales."""
    decided = [f for f in facts if f.decided]
    if len(decided) < min_evidence:
        return {"min_score": current, "why": f"only {len(decided)} decided handoffs; need {min_evidence}"}
    for t in sorted({current, *(f.score for f in decided if f.score > current)}):
        above = [f for f in decided if f.score >= t]
        if len(above) < min_evidence:
            break
        rate = 100.0 * sum(f.accepted for f in above) / len(above)
        if rate >= target:
            why = (f"sales accepted {rate:.0f} % of the {len(above)} decided handoffs scoring {t} or more "
                   f"(target {target:.0f} %)")
            return {"min_score": t, "why": ("keep: " if t == current else "raise: ") + why}
    return {"min_score": current, "why": f"no threshold reaches {target:.0f} % acceptance with enough evidence; "
                                         "the fit criteria matter more than the score"}


def suggest(session: Session, *, since: datetime | None = None) -> dict[str, Any]:
    """A proposed agreement drawn from sales' feedback: a threshold and criterion weights, with the why.
    It is shown for a marketer to try in the replay and save, never applied here."""
    config = get_setting(session, "reports")
    facts = handoff_facts(session, since=since)
    evidence = criteria_evidence(session, facts=facts)
    current = load_agreement(session)
    threshold = suggest_threshold(facts, int(current.qualification["min_score"]),
                                  float(config.get("target_acceptance", 60)), int(config.get("min_evidence", 5)))
    changes, criteria = [], []
    data = agreement_data(session)
    by_name = {row["name"]: row for row in evidence["criteria"]}
    for c in data["fit"]["criteria"]:
        row = by_name.get(c["name"])
        weight, why = c["weight"], "keep"
        if row and row["verdict"] in ("does not predict", "predicts the opposite"):
            weight, why = None, f"drop: {row['verdict']} (acceptance {row['acceptance_lift']:+} points when met)"
        elif row and row["verdict"] == "predicts" and row["acceptance_lift"] >= 2.5 * 10 and c["weight"] > 0:
            weight, why = c["weight"] + 1, f"weigh more: acceptance {row['acceptance_lift']:+} points when met"
        if weight != c["weight"]:
            changes.append({"criterion": c["name"], "weight": c["weight"], "suggested": weight, "why": why})
        if weight is not None:
            criteria.append({**c, "weight": weight})
    if not any(c["weight"] > 0 for c in criteria):
        criteria, changes = data["fit"]["criteria"], []
    proposal = {"qualification": {**data["qualification"], "min_score": threshold["min_score"]},
                "fit": {"grades": data["fit"]["grades"], "criteria": criteria}}
    return {"threshold": {"current": int(current.qualification["min_score"]), **threshold},
            "criteria": changes, "agreement": proposal,
            "changed": bool(changes) or threshold["min_score"] != int(current.qualification["min_score"]),
            "evidence": {"handoffs": evidence["overall"]["handoffs"], "decided": evidence["overall"]["decided"]}}
