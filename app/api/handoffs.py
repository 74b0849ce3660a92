"""Handoffs for a CRM or a sales tool: who got which lead, why, and the lead report."""
from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import select

from app.domain.errors import ValidationError
from app.extensions import db_session
from app.models import Handoff

from . import bp
from .auth import require_api_key


def handoff_json(h: Handoff) -> dict:
    return {
        "id": h.id, "contact_id": h.contact_id, "status": str(h.status), "reason": h.reason,
        "assignment": h.assignment, "score": h.score, "grade": h.grade,
        "rep": {"id": h.rep.id, "email": h.rep.email, "name": h.rep.name} if h.rep else None,
        "created_at": h.created_at.isoformat(), "respond_by": h.respond_by.isoformat() if h.respond_by else None,
        "report": h.report,
    }


@bp.get("/handoffs")
@require_api_key
def list_handoffs():
    limit = request.args.get("limit", "100")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise ValidationError("limit", "must be a whole number from 1 to 1000")
    query = select(Handoff).order_by(Handoff.id.desc()).limit(int(limit))
    status = request.args.get("status")
    if status:
        query = query.where(Handoff.status == status)
    return jsonify({"handoffs": [handoff_json(h) for h in db_session().scalars(query)]})
