"""Bounce and complaint reports posted by a mailbox reader or the relay's webhook."""
from __future__ import annotations

from flask import jsonify, request

from app.domain.engagement.bounces import process_report
from app.extensions import db_session, services

from . import bp
from .auth import require_api_key
from .schemas.common import OpenObject
from .spec import Raw, operation


@bp.post("/bounces")
@require_api_key("contacts:write")
@operation("A bounce (DSN), complaint (ARF) or unsubscribe message, raw", tag="deliverability",
           body=Raw(("message/rfc822", "text/plain")), responses={200: OpenObject})
def receive_report():
    """The raw DSN, ARF or List-Unsubscribe mailto message as the body (Content-Type: message/rfc822)."""
    session = db_session()
    outcome = process_report(session, request.get_data(), now=services().now())
    session.commit()
    return jsonify(outcome), 200
