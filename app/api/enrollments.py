"""Enrollments: put a contact into a campaign, take it out (the enrollment stops), and list a contact's."""
from __future__ import annotations

from flask import g, jsonify

from app.domain.campaigns.enrolling import contact_enrollments, enroll_contact, remove_enrollment
from app.extensions import db_session, services
from app.models import Enrollment

from . import bp
from .auth import require_api_key
from .inputs import json_body
from .schemas.catalog import EnrollmentIn, EnrollmentList, EnrollmentOut
from .spec import operation


def _iso(value):
    return value.isoformat() if value else None


def enrollment_json(e: Enrollment) -> dict:
    return {"id": e.id, "contact_id": e.contact_id, "campaign": e.campaign.slug, "status": str(e.status),
            "cycle": e.cycle, "next_position": e.next_position, "next_due_at": _iso(e.next_due_at),
            "last_sent_at": _iso(e.last_sent_at), "source": e.source, "exit_reason": e.exit_reason,
            "enrolled_at": _iso(e.enrolled_at), "ended_at": _iso(e.ended_at)}


def _actor() -> str:
    return f"key {g.api_key.name} ({g.api_key.prefix})"


@bp.post("/enrollments")
@require_api_key("contacts:write")
@operation("Enroll a contact in an active campaign", tag="enrollments", body=EnrollmentIn,
           responses={201: EnrollmentOut}, yields={"enrollment_id": "id"},
           description="409 when the campaign is not active, the contact may not receive it, or it is already in.")
def create_enrollment():
    data, session = json_body(), db_session()
    enrollment = enroll_contact(session, data["contact_id"], data["campaign"], now=services().now(), actor=_actor())
    session.commit()
    return jsonify(enrollment_json(enrollment)), 201


@bp.delete("/enrollments/<int:enrollment_id>")
@require_api_key("contacts:write")
@operation("Remove a contact from a campaign: the enrollment stops", tag="enrollments",
           responses={200: EnrollmentOut})
def delete_enrollment(enrollment_id: int):
    session = db_session()
    enrollment = remove_enrollment(session, enrollment_id, now=services().now(), actor=_actor())
    session.commit()
    return jsonify(enrollment_json(enrollment))


@bp.get("/contacts/<int:contact_id>/enrollments")
@require_api_key("read")
@operation("A contact's enrollments, newest first", tag="enrollments", responses={200: EnrollmentList})
def list_contact_enrollments(contact_id: int):
    return jsonify({"enrollments": [enrollment_json(e) for e in contact_enrollments(db_session(), contact_id)]})
