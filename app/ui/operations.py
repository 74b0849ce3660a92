"""The operator's page: queue depth, sending state per campaign, failed jobs, paused domains, alerts."""
from __future__ import annotations

from flask import render_template

from app.domain.sending.operations import delivery_status
from app.extensions import db_session, services

from . import bp
from .access import ADMIN, roles_required


@bp.get("/operations")
@roles_required(ADMIN)
def operations():
    status = delivery_status(db_session(), services(), now=services().now())
    return render_template("operations/status.html", status=status)
