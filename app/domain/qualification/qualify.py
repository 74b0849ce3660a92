"""Scoring one contact from its history, and the one rule that says whether a scored contact qualifies."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import NURTURE_STAGES, Contact, Event, Stage
from app.infra import locks

from app.domain.qualification.agreement import Agreement, load_agreement
from app.domain.contacts.records import rule_fields
from app.domain.qualification.scoring import (Rule, ScoredEvent, compute_fit, compute_score, fast_track_reason,
                                              qualification_reason)


def load_rules(session: Session) -> list[Rule]:
    return load_agreement(session).rules


def contact_events(session: Session, contact: Contact) -> list[ScoredEvent]:
    query = select(Event.id, Event.type, Event.occurred_at, Event.url, Event.campaign_id,
                   Event.is_machine).where(Event.contact_id == contact.id, Event.is_machine.is_(False))
    if contact.score_reset_at is not None:
        query = query.where(Event.occurred_at >= contact.score_reset_at)
    return [ScoredEvent(*row) for row in session.execute(query).all()]


def score_values(agreement: Agreement, fields: dict[str, Any], events: Iterable[ScoredEvent], *, now: datetime,
                 reset_at: datetime | None) -> dict[str, Any]:
    """The scoring columns of a contact: a pure function of its fields, its events and the agreement."""
    score = compute_score(events, agreement.rules, now=now, half_life_days=agreement.half_life_days,
                          profile=fields, reset_at=reset_at, type_caps=agreement.type_caps)
    fit = compute_fit(fields, agreement.prepared_criteria, agreement.grades)
    return {"score": score.total, "score_reasons": score.reasons, "grade": fit.grade,
            "fit_reasons": {"percent": fit.percent, "met": fit.met, "missed": fit.missed}, "scored_at": now}


def rescore(session: Session, contact: Contact, *, now: datetime) -> None:
    """Score the contact from every event stored so far. On PostgreSQL its row is locked and read
    again first: an event batch or another event committed meanwhile is then seen and scored on
    top, never overwritten by a score computed without it."""
    locks.refresh_contact_locked(session, contact)
    values = score_values(load_agreement(session), rule_fields(contact), contact_events(session, contact), now=now,
                          reset_at=contact.score_reset_at)
    for key, value in values.items():
        setattr(contact, key, value)


def qualifying_reason(threshold: dict[str, Any], score: float, grade: str,
                      triggers: Iterable[tuple[str, str | None]] = ()) -> str | None:
    """The qualification rule, the one every path applies (an event, a re-score, a what-if replay):
    why a contact with this score and grade meets the agreed threshold now, or a fast-track rule on
    one of its new events (type, URL); None if it does not."""
    return qualification_reason(score, grade, threshold) or next(
        filter(None, (fast_track_reason(kind, grade, threshold, url) for kind, url in triggers)), None)


def qualifies(agreement: Agreement, contact: Contact, *, trigger_event: str | None = None,
              trigger_url: str | None = None) -> str | None:
    """Why this (scored) contact meets the agreement now, or None."""
    triggers = [(trigger_event, trigger_url)] if trigger_event else []
    return qualifying_reason(agreement.qualification, contact.score, contact.grade, triggers)


def is_qualified_stage(stage: Stage) -> bool:
    return stage not in NURTURE_STAGES
