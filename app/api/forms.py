"""Form submissions from the marketer's own server, over the JSON API."""
from __future__ import annotations

from flask import jsonify

from app.domain.engagement import forms
from app.extensions import db_session, services

from . import bp
from .auth import require_api_key
from .schemas.contacts import FormAnswer, FormIn
from .spec import operation
from .inputs import json_body


@bp.post("/forms/<slug>")
@require_api_key("contacts:write")
@operation("A form submitted on your own server", tag="events", body=FormIn,
           responses={201: FormAnswer, 200: FormAnswer})
def form_submission(slug: str):
    """A form submitted on the marketer's server: the same as POST /f/<form>.json (contact upserted, event
    recorded, autoresponders fired) but trusted by its key, so not limited per address."""
    data = json_body()
    session = db_session()
    outcome = forms.submit(session, slug, data, now=services().now(), page=data.get("page"), trusted=True)
    session.commit()
    if outcome.spam:
        return jsonify({"status": "ignored", "reason": f"the {forms.HONEYPOT_FIELD} field is filled in: spam"}), 200
    return jsonify({"status": "ok", "contact_id": outcome.contact.id, "event_id": outcome.event.id if outcome.event else None,
                    "created": outcome.created}), 201 if outcome.created else 200
