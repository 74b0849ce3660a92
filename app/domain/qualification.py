"""Re-scoring a contact and, when the agreed threshold is met, qualifying and handing it off."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import NURTURE_STAGES, Contact, Event, FitCriterion, ScoringRule, Stage

from .contacts import rule_fields
from .scoring import (Criterion, Rule, ScoredEvent, compute_fit, compute_score, fast_track_reason,
                      qualification_reason)
from .settings import get_setting


def load_rules(session: Session) -> list[Rule]:
    rows = session.scalars(select(ScoringRule).where(ScoringRule.active.is_(True)).order_by(ScoringRule.id)).all()
    return [Rule(r.id, r.name, r.event_type, r.points, r.url_pattern, r.campaign_id, r.daily_cap) for r in rows]


def load_criteria(session: Session) -> list[Criterion]:
    rows = session.scalars(select(FitCriterion).where(FitCriterion.active.is_(True)).order_by(FitCriterion.id)).all()
    return [Criterion(r.id, r.name, r.field, r.operator, (r.value or {}).get("v"), r.weight) for r in rows]


def contact_events(session: Session, contact: Contact) -> list[ScoredEvent]:
    rows = session.execute(select(Event.id, Event.type, Event.occurred_at, Event.url, Event.campaign_id,
                                  Event.is_machine).where(Event.contact_id == contact.id)).all()
    return [ScoredEvent(*row) for row in rows]


def rescore(session: Session, contact: Contact, *, now: datetime) -> None:
    score = compute_score(contact_events(session, contact), load_rules(session), now=now,
                          half_life_days=get_setting(session, "scoring").get("half_life_days"))
    fit = compute_fit(rule_fields(contact), load_criteria(session), get_setting(session, "fit_grades"))
    contact.score = score.total
    contact.score_reasons = score.reasons
    contact.grade = fit.grade
    contact.fit_reasons = {"percent": fit.percent, "met": fit.met, "missed": fit.missed}
    contact.scored_at = now


def refresh_contact(session: Session, contact: Contact, *, now: datetime, trigger_event: str | None = None):
    """Re-score, and hand off if the contact is still in nurture and now meets the agreement."""
    from .handoff import hand_off

    session.flush()
    rescore(session, contact, now=now)
    if contact.stage not in NURTURE_STAGES:
        return None
    threshold = get_setting(session, "qualification")
    reason = qualification_reason(contact.score, contact.grade, threshold)
    if reason is None and trigger_event:
        reason = fast_track_reason(trigger_event, contact.grade, threshold)
    if reason is None:
        return None
    return hand_off(session, contact, reason=reason, now=now)


def is_qualified_stage(stage: Stage) -> bool:
    return stage not in NURTURE_STAGES
