"""The agreement and its evidence as JSON: read and save the agreement, the criteria evidence
report, the what-if replay of a proposal, suggestions from the feedback, and monthly reviews."""
from __future__ import annotations

from datetime import datetime

from flask import jsonify, request

from app.domain.qualification.agreement import (AgreementError, agreement_data, apply_agreement, merged_with_current,
                                  proposed_agreement)
from app.domain.contacts.inputs import parse_time
from app.domain.errors import NotFound, ValidationError
from app.domain.qualification.reports import criteria_evidence
from app.domain.handoff.reviews import month_review, parse_month
from app.domain.qualification.whatif import replay, suggest
from app.extensions import db_session, services
from app.models import User

from . import bp
from .auth import require_api_key
from .schemas.common import OpenObject
from .schemas.reports import AgreementIn, AgreementSaved, Since, WhatIfIn, Window
from .spec import operation
from .inputs import json_body
from .errors import error_response


@bp.errorhandler(AgreementError)
def _agreement_problems(exc: AgreementError):
    response, status = error_response(422, "invalid", exc.message, exc.field)
    body = response.get_json()
    body["error"]["problems"] = exc.problems
    return jsonify(body), status


def _time(value, field: str) -> datetime | None:
    return parse_time(value, field, naive_as_utc=True)


def _window(source) -> tuple[datetime | None, datetime | None]:
    since, until = _time(source.get("since"), "since"), _time(source.get("until"), "until")
    if since and until and since >= until:
        raise ValidationError("until", "must be after since")
    return since, until


@bp.get("/agreement")
@require_api_key("read")
@operation("The marketing–sales agreement", tag="agreement", responses={200: OpenObject})
def get_agreement():
    return jsonify(agreement_data(db_session()))


@bp.put("/agreement")
@require_api_key("campaigns:manage")
@operation("Save the agreement (validated whole); every contact is re-scored", tag="agreement",
           body=AgreementIn, responses={200: AgreementSaved})
def put_agreement():
    """Validate the document; save it only when there is no problem. Sections and keys it leaves out
    keep their values. Every contact is then re-scored by the scheduler (the fingerprint changed)."""
    session, data = db_session(), json_body()
    proposed_agreement(session, data)  # raises AgreementError with every problem
    changed = apply_agreement(session, merged_with_current(session, data), services().now())
    session.commit()
    return jsonify({"changed": bool(changed), "agreement": agreement_data(session)})


@bp.get("/reports/criteria")
@require_api_key("read")
@operation("The criteria evidence report", tag="agreement", query=Window, responses={200: OpenObject})
def criteria_report():
    since, until = _window(request.args)
    return jsonify(criteria_evidence(db_session(), since=since, until=until))


@bp.post("/reports/whatif")
@require_api_key("campaigns:manage")
@operation("Replay a proposed agreement over past leads; nothing is saved", tag="agreement", body=WhatIfIn,
           responses={200: OpenObject})
def whatif():
    """Body: {"agreement": {qualification?, scoring?, fit?}, "since"?, "until"?}; nothing is saved."""
    data = json_body()
    unknown = sorted(set(data) - {"agreement", "since", "until"})
    if unknown:
        raise ValidationError(unknown[0], "is not accepted here (use agreement, since, until)")
    if not isinstance(data.get("agreement", {}), dict):
        raise ValidationError("agreement", "must be an object with qualification, scoring, fit")
    since, until = _window(data)
    session = db_session()
    proposal = proposed_agreement(session, data.get("agreement") or {})
    return jsonify(replay(session, proposal, now=services().now(), since=since, until=until))


@bp.get("/reports/suggestions")
@require_api_key("read")
@operation("Suggested changes to the agreement, from sales' feedback", tag="agreement", query=Since,
           responses={200: OpenObject})
def suggestions():
    since, _ = _window(request.args)
    return jsonify(suggest(db_session(), since=since))


@bp.get("/reviews/<int:rep_id>/<month>")
@require_api_key("read")
@operation("A rep's monthly lead review", tag="agreement", responses={200: OpenObject})
def review(rep_id: int, month: str):
    rep = db_session().get(User, rep_id)
    if rep is None:
        raise NotFound(f"user {rep_id}")
    return jsonify(month_review(db_session(), rep, parse_month(month), now=services().now()))
