"""Contacts and events: the way prospects and signals enter Nurture from other systems."""
from __future__ import annotations

from flask import jsonify

from app.domain.contacts.consent import consent_json
from app.domain.engagement.arrivals import upsert_contact
from app.domain.errors import NotFound
from app.domain.engagement.events import record_api_event
from app.domain.handoff.hand_off import timeline
from app.extensions import db_session, services
from app.models import Contact

from . import bp
from .auth import require_api_key
from .limits import batch
from .schemas.contacts import BatchAccepted, ContactIn, ContactOut, EventAccepted, EventBatchIn, EventDuplicate, EventIn
from .spec import operation
from .inputs import json_body


def contact_json(contact: Contact, *, with_timeline: bool = False) -> dict:
    body = {
        "id": contact.id, "email": contact.email, "first_name": contact.first_name, "last_name": contact.last_name,
        "company": contact.company, "title": contact.title, "industry": contact.industry,
        "company_size": contact.company_size, "budget": contact.budget, "timeline_months": contact.timeline_months,
        "country": contact.country, "timezone": contact.timezone, "source": contact.source, "fields": contact.fields,
        "persona": contact.persona.slug if contact.persona else None, "segment": contact.segment,
        "stage": str(contact.stage), "email_status": str(contact.email_status),
        "score": contact.score, "grade": contact.grade,
        "score_reasons": contact.score_reasons, "fit": contact.fit_reasons,
        "consent": consent_json(contact),
    }
    if with_timeline:
        body["timeline"] = timeline(db_session(), contact)
    return body


@bp.post("/contacts")
@require_api_key("contacts:write")
@operation("Create or update a contact by email", tag="contacts", body=ContactIn,
           responses={201: ContactOut, 200: ContactOut}, yields={"contact_id": "id"})
def create_or_update_contact():
    session = db_session()
    contact, created = upsert_contact(session, json_body(), now=services().now(), actor="api")
    session.commit()
    return jsonify(contact_json(contact)), 201 if created else 200


@bp.get("/contacts/<int:contact_id>")
@require_api_key("read")
@operation("A contact with its score, fit, consent and timeline", tag="contacts", responses={200: ContactOut})
def get_contact(contact_id: int):
    contact = db_session().get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id}")
    return jsonify(contact_json(contact, with_timeline=True))


@bp.post("/events")
@require_api_key("contacts:write")
@operation("Record an event for a contact", tag="events", body=EventIn,
           responses={202: EventAccepted, 200: EventDuplicate})
def create_event():
    session = db_session()
    event = record_api_event(session, json_body(), now=services().now())
    session.commit()
    if event is None:
        return jsonify({"status": "duplicate", "message": "an event with this id was already recorded"}), 200
    return jsonify({"status": "accepted", "id": event.id, "contact_id": event.contact_id}), 202


@bp.post("/events/batch")
@batch
@require_api_key("contacts:write")
@operation("Record up to 1,000 events, all or none", tag="events", body=EventBatchIn,
           responses={202: BatchAccepted})
def create_events():
    """{"events": [...]}: up to 1,000 events, all or none; each contact is re-scored once for the lot."""
    from app.domain.engagement.batches import parse_batch, record_events, resolve_contacts

    session, now = db_session(), services().now()
    parsed = parse_batch(json_body().get("events"), now)
    resolve_contacts(session, parsed, now=now)
    stored, stats = record_events(session, parsed, now=now)
    session.commit()
    return jsonify({"status": "accepted", "stored": stored, "duplicates": len(parsed) - stored,
                    "contacts": stats.contacts, "handed_off": len(stats.handed_off)}), 202
