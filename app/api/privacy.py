"""Privacy requests and consent over the JSON API: export a contact's data, erase it, record consent."""
from __future__ import annotations

from flask import jsonify

from app.domain.campaigns.enrollment import apply_consent
from app.domain.contacts.consent import consent_json, parse_consent
from app.domain.contacts.privacy import erase_contact, export_contact
from app.domain.errors import NotFound
from app.extensions import db_session, services
from app.models import Contact

from . import bp
from .auth import require_api_key
from .schemas.common import OpenObject
from .schemas.contacts import ConsentAnswer, ConsentRequest, Erased
from .spec import operation
from .inputs import json_body


def _contact(contact_id: int) -> Contact:
    contact = db_session().get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id}")
    return contact


@bp.get("/contacts/<int:contact_id>/export")
@require_api_key("read")
@operation("Everything held on a contact (data subject access request)", tag="privacy",
           responses={200: OpenObject})
def export(contact_id: int):
    """Everything held on the contact, for a data subject access request."""
    return jsonify(export_contact(db_session(), _contact(contact_id)))


@bp.delete("/contacts/<int:contact_id>")
@require_api_key("contacts:write")
@operation("Erase a contact; its address can never be added again", tag="privacy", responses={200: Erased})
def erase(contact_id: int):
    """Erasure: the contact and what names it go; a hash keeps the address from being added again."""
    session = db_session()
    erase_contact(session, _contact(contact_id), now=services().now())
    session.commit()
    return jsonify({"status": "erased", "id": contact_id})


@bp.post("/contacts/<int:contact_id>/consent")
@require_api_key("contacts:write")
@operation("Record permission to email and to track", tag="privacy", body=ConsentRequest,
           responses={200: ConsentAnswer})
def consent(contact_id: int):
    """Record permission to email and/or to track, each with basis, source and time."""
    session = db_session()
    contact = _contact(contact_id)
    apply_consent(session, contact, parse_consent(json_body().get("consent", json_body())), now=services().now(),
                  source="api", actor="api")
    session.commit()
    return jsonify({"id": contact.id, "consent": consent_json(contact)})
