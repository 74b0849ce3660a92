"""What the CRM hears about a handoff: the payload of lead.qualified, handoff.* and outcome.recorded.

Owing and delivering them is contacts.webhooks (every room emits events, so it sits in the lowest
room); this module only says what a handoff event carries.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import Handoff

from app.domain.contacts.webhooks import contact_payload, emit


def handoff_payload(handoff: Handoff) -> dict[str, Any]:
    contact, rep = handoff.contact, handoff.rep
    return {
        "id": handoff.id, "status": str(handoff.status), "reason": handoff.reason, "score": handoff.score,
        "grade": handoff.grade, "assignment": handoff.assignment,
        "rep": {"id": rep.id, "email": rep.email, "name": rep.name} if rep else None,
        "contact": {"id": contact.id, "email": contact.email, "name": contact.name, "company": contact.company,
                    "title": contact.title, "stage": str(contact.stage)},
        "created_at": handoff.created_at.isoformat(),
        "respond_by": handoff.respond_by.isoformat() if handoff.respond_by else None,
        "outcome": handoff.outcome, "outcome_amount": handoff.outcome_amount, "outcome_reason": handoff.outcome_reason,
        "report_path": f"/handoffs/{handoff.id}", "report": handoff.report,
    }


def queue_webhook(session: Session, handoff: Handoff, event: str, *, now: datetime) -> None:
    """Owe this handoff event to every endpoint that takes it."""
    session.flush()
    emit(session, event, {"handoff": handoff_payload(handoff)}, now=now, contact_id=handoff.contact_id,
         handoff_id=handoff.id)


def announce_qualified(session: Session, handoff: Handoff, *, now: datetime) -> None:
    """lead.qualified (the contact and why) and handoff.created (the handoff as made)."""
    session.flush()
    emit(session, "lead.qualified", {"contact": contact_payload(handoff.contact), "reason": handoff.reason,
                                     "score": handoff.score, "grade": handoff.grade, "handoff_id": handoff.id},
         now=now, contact_id=handoff.contact_id, handoff_id=handoff.id)
    queue_webhook(session, handoff, "handoff.created", now=now)
