"""Handoffs for a CRM or a sales tool: who got which lead, why, the lead report, and sales' answers.

Decisions are made on behalf of a named user (`"user": "rep@example.com"`): the assigned rep, a
sales manager or an admin, as in the web UI. That needs a key with the sales:act scope (admin to act
for an admin), and the audit trail records "key <name> (<prefix>) for user <email>".
"""
from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from sqlalchemy import select

from app.domain.errors import NotFound, ValidationError
from app.domain.handoff.feedback import (act_for, add_feedback, may_record_outcome, may_recycle, record_outcome,
                                         recycle, respond)
from app.domain.handoff.hand_off import handoff_events
from app.extensions import db_session, services
from app.models import Feedback, Handoff, HandoffStatus, User

from . import bp
from .auth import require_api_key
from .schemas.handoffs import DecisionIn, FeedbackIn, HandoffList, HandoffOut, HandoffQuery, OutcomeIn, RecycleIn
from .spec import operation
from .inputs import json_body, query_number


def handoff_json(h: Handoff, *, full: bool = False) -> dict:
    body = {
        "id": h.id, "contact_id": h.contact_id, "status": str(h.status), "reason": h.reason,
        "assignment": h.assignment, "score": h.score, "grade": h.grade,
        "rep": {"id": h.rep.id, "email": h.rep.email, "name": h.rep.name} if h.rep else None,
        "created_at": h.created_at.isoformat(), "assigned_at": _iso(h.assigned_at),
        "respond_by": _iso(h.respond_by), "responded_at": _iso(h.responded_at),
        "escalated_at": _iso(h.escalated_at),
        "escalated_to": h.escalated_to.email if h.escalated_to else None, "reassignments": h.reassignments,
        "outcome": h.outcome, "outcome_amount": h.outcome_amount, "outcome_reason": h.outcome_reason,
        "recycled_at": _iso(h.recycled_at), "report": h.report,
    }
    if full:
        session = db_session()
        body["feedback"] = [{"decision": f.decision, "rating": f.rating, "reasons": f.reasons, "comment": f.comment,
                             "user": f.user.email if f.user else None, "actor": f.actor, "at": f.created_at.isoformat()}
                            for f in session.scalars(select(Feedback).where(Feedback.handoff_id == h.id)
                                                     .order_by(Feedback.id))]
        body["events"] = [{"kind": e.kind, "detail": e.detail, "actor": e.actor, "at": e.created_at.isoformat()}
                          for e in handoff_events(session, h)]
    return body


def _iso(value) -> str | None:
    return value.isoformat() if value else None


@bp.get("/handoffs")
@require_api_key("read")
@operation("Handoffs, newest first", tag="handoffs", query=HandoffQuery, responses={200: HandoffList})
def list_handoffs():
    query = select(Handoff).order_by(Handoff.id.desc()).limit(query_number("limit", 100, 1, 1000))
    status = request.args.get("status")
    if status:
        if status not in {str(s) for s in HandoffStatus}:
            raise ValidationError("status", f"must be one of {', '.join(str(s) for s in HandoffStatus)}")
        query = query.where(Handoff.status == status)
    rep = request.args.get("rep")
    if rep:
        query = query.where(Handoff.rep_id == _user(rep, "rep").id)
    return jsonify({"handoffs": [handoff_json(h) for h in db_session().scalars(query)]})


@bp.get("/handoffs/<int:handoff_id>")
@require_api_key("read")
@operation("A handoff with its lead report, feedback and audit trail", tag="handoffs",
           responses={200: HandoffOut})
def get_handoff(handoff_id: int):
    return jsonify(handoff_json(_handoff(handoff_id), full=True))


def _handoff(handoff_id: int) -> Handoff:
    found = db_session().get(Handoff, handoff_id)
    if found is None:
        raise NotFound(f"handoff {handoff_id}")
    return found


def _user(value: Any, field: str = "user") -> User:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "name the user acting, by email")
    user = db_session().scalar(select(User).where(User.email == value.strip().lower()))
    if user is None or not user.active:
        raise ValidationError(field, f"no active user {value!r}")
    return user


def _fields(data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(unknown[0], f"is not accepted here (use {', '.join(sorted(allowed))})")


def _reasons(data: dict) -> list:
    reasons = data.get("reasons", [])
    if not isinstance(reasons, list):
        raise ValidationError("reasons", "must be a list of reasons")
    return reasons


def _answer(handoff: Handoff):
    db_session().commit()
    return jsonify(handoff_json(handoff, full=True))


@bp.post("/handoffs/<int:handoff_id>/decision")
@require_api_key("sales:act")
@operation("Accept or reject a lead on behalf of a user", tag="handoffs", body=DecisionIn,
           responses={200: HandoffOut})
def decide(handoff_id: int):
    handoff, data = _handoff(handoff_id), json_body()
    _fields(data, {"user", "decision", "rating", "reasons", "comment"})
    user, actor = act_for(db_session(), g.api_key, data.get("user"), handoff)
    if data.get("decision") not in ("accept", "reject"):
        raise ValidationError("decision", "must be accept or reject")
    respond(db_session(), handoff, user, accept=data["decision"] == "accept", rating=data.get("rating"),
            reasons=_reasons(data), comment=data.get("comment", ""), now=services().now(), actor=actor)
    return _answer(handoff)


@bp.post("/handoffs/<int:handoff_id>/feedback")
@require_api_key("sales:act")
@operation("Add a rating, reasons or a comment", tag="handoffs", body=FeedbackIn, responses={200: HandoffOut})
def feedback(handoff_id: int):
    handoff, data = _handoff(handoff_id), json_body()
    _fields(data, {"user", "rating", "reasons", "comment"})
    user, actor = act_for(db_session(), g.api_key, data.get("user"), handoff)
    add_feedback(db_session(), handoff, user, rating=data.get("rating"), reasons=_reasons(data),
                 comment=data.get("comment", ""), now=services().now(), actor=actor)
    return _answer(handoff)


@bp.post("/handoffs/<int:handoff_id>/outcome")
@require_api_key("sales:act")
@operation("Record the outcome: opportunity, won or lost", tag="handoffs", body=OutcomeIn,
           responses={200: HandoffOut})
def outcome(handoff_id: int):
    handoff, data = _handoff(handoff_id), json_body()
    _fields(data, {"user", "outcome", "amount", "reason", "comment"})
    user, actor = act_for(db_session(), g.api_key, data.get("user"), handoff, may_record_outcome)
    record_outcome(db_session(), handoff, user, outcome=data.get("outcome"), amount=data.get("amount"),
                   reason=data.get("reason"), comment=data.get("comment", ""), now=services().now(), actor=actor)
    return _answer(handoff)


@bp.post("/handoffs/<int:handoff_id>/recycle")
@require_api_key("sales:act")
@operation("Send the lead back to nurture", tag="handoffs", body=RecycleIn, responses={200: HandoffOut})
def recycle_lead(handoff_id: int):
    handoff, data = _handoff(handoff_id), json_body()
    _fields(data, {"user"})
    user, actor = act_for(db_session(), g.api_key, data.get("user"), handoff, may_recycle)
    recycle(db_session(), handoff, now=services().now(), actor=actor, why=f"by {user.email}")
    return _answer(handoff)
