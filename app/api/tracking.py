"""Privacy requests, consent, QR codes and server-side page views over the JSON API."""
from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import select

from app import MAX_ROW_ID
from app.domain.engagement import forms
from app.domain.engagement import buffer
from app.domain.engagement import hits as hit_codec
from app.domain.campaigns.enrollment import apply_consent
from app.domain.contacts.consent import consent_json, parse_consent
from app.domain.contacts.records import find_contact, normalise_email
from app.domain.errors import NotFound, ValidationError
from app.domain.contacts.privacy import erase_contact, export_contact
from app.domain.engagement.qr import FORMATS, create_qr, draw, find_qr
from app.domain.engagement.site import MAX_VIEWS_PER_BEACON
from app.domain.messages.links import CONTACT
from app.extensions import db_session, services
from app.models import Campaign, Contact

from . import bp
from .auth import require_api_key
from .contacts import json_body


def _is_row_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ROW_ID


def _contact(contact_id: int) -> Contact:
    contact = db_session().get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id}")
    return contact


@bp.get("/contacts/<int:contact_id>/export")
@require_api_key
def export(contact_id: int):
    """Everything held on the contact, for a data subject access request."""
    return jsonify(export_contact(db_session(), _contact(contact_id)))


@bp.delete("/contacts/<int:contact_id>")
@require_api_key
def erase(contact_id: int):
    """Erasure: the contact and what names it go; a hash keeps the address from being added again."""
    session = db_session()
    erase_contact(session, _contact(contact_id), now=services().now())
    session.commit()
    return jsonify({"status": "erased", "id": contact_id})


@bp.post("/contacts/<int:contact_id>/consent")
@require_api_key
def consent(contact_id: int):
    """Record permission to email and/or to track, each with basis, source and time."""
    session = db_session()
    contact = _contact(contact_id)
    apply_consent(session, contact, parse_consent(json_body().get("consent", json_body())), now=services().now(),
                  source="api", actor="api")
    session.commit()
    return jsonify({"id": contact.id, "consent": consent_json(contact)})


@bp.post("/qr")
@require_api_key
def qr_create():
    """A QR code for a campaign link: {campaign (slug or id), url, label}."""
    data = json_body()
    session = db_session()
    ref = data.get("campaign")
    campaign = (session.get(Campaign, ref) if _is_row_id(ref) else
                session.scalar(select(Campaign).where(Campaign.slug == ref)) if isinstance(ref, str) else None)
    if campaign is None:
        raise ValidationError("campaign", "give an existing campaign's slug or id")
    code = create_qr(session, campaign_id=campaign.id, url=data.get("url"), label=data.get("label") or "",
                     now=services().now())
    session.commit()
    base = f"{services().config.base_url}/api/v1/qr/{code.public_id}"
    return jsonify({"id": code.public_id, "campaign": campaign.slug, "url": code.url,
                    "scan_url": services().tokens.qr_url(code.public_id), "svg": f"{base}.svg", "png": f"{base}.png"}), 201


@bp.get("/qr/<public_id>.<fmt>")
@require_api_key
def qr_image(public_id: str, fmt: str):
    if fmt not in FORMATS:
        raise NotFound(f"format {fmt!r} (use svg or png)")
    code = find_qr(db_session(), public_id)
    return Response(draw(services().tokens.qr_url(code.public_id), fmt), mimetype=FORMATS[fmt])


@bp.post("/forms/<slug>")
@require_api_key
def form_submission(slug: str):
    """A form submitted on the marketer's server: the same as POST /f/<form>.json (contact upserted, event
    recorded, autoresponders fired) but trusted by its key, so not limited per address."""
    data = json_body()
    session = db_session()
    outcome = forms.submit(session, slug, data, now=services().now(), page=data.get("page"))
    session.commit()
    if outcome.spam:
        return jsonify({"status": "ignored", "reason": f"the {forms.HONEYPOT_FIELD} field is filled in: spam"}), 200
    return jsonify({"status": "ok", "contact_id": outcome.contact.id, "event_id": outcome.event.id if outcome.event else None,
                    "created": outcome.created}), 201 if outcome.created else 200


@bp.post("/pageviews")
@require_api_key
def pageviews():
    """Page views from the marketer's server: {"views": [{email | contact_id | token, url, title?, seconds?, id?}]}.
    Queued on the same buffered path as the snippet's beacons; answered 202 with how many were queued."""
    views = json_body().get("views")
    if not isinstance(views, list) or not 1 <= len(views) <= MAX_VIEWS_PER_BEACON * 10:
        raise ValidationError("views", f"must be a list of 1 to {MAX_VIEWS_PER_BEACON * 10} page views")
    session, tokens, now = db_session(), services().tokens, services().now().timestamp()
    hits = []
    for i, view in enumerate(views):
        field = f"views[{i}]"
        if not isinstance(view, dict):
            raise ValidationError(field, "must be an object")
        public_id = _identify(session, tokens, view, field)
        url = view.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2000:
            raise ValidationError(f"{field}.url", "must be an http(s) address of at most 2000 characters")
        seconds = view.get("seconds")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 86400):
            raise ValidationError(f"{field}.seconds", "must be a number of seconds from 0 to 86400")
        title = view.get("title")
        if title is not None and not isinstance(title, str):
            raise ValidationError(f"{field}.title", "must be a string")
        view_id = view.get("id")
        if view_id is not None and (not isinstance(view_id, str) or not 8 <= len(view_id) <= 32 or not view_id.isalnum()):
            raise ValidationError(f"{field}.id", "must be 8 to 32 letters and digits (your idempotency key)")
        if public_id is None:
            continue  # an address we do not know: nothing to attach the view to
        extra = {"u": url, "ti": (title or "")[:300] or None, "s": seconds, "n": 1}
        hits.append(hit_codec.encode(hit_codec.PAGE_VIEW, public_id, at=now, ip=request.remote_addr,
                                  user_agent=request.headers.get("User-Agent"), extra=extra,
                                  hit_id=f"{public_id[:16]}{view_id}" if view_id else None))
    buffer.submit(services(), hits)
    return jsonify({"status": "queued", "queued": len(hits), "unknown": len(views) - len(hits)}), 202


def _identify(session, tokens, view: dict, field: str) -> str | None:
    if view.get("token") is not None:
        verified = tokens.verify(CONTACT, view["token"]) if isinstance(view["token"], str) else None
        if verified is None:
            raise ValidationError(f"{field}.token", "is not a valid Nurture contact token (the nt value)")
        return verified[0]
    if view.get("contact_id") is not None:
        contact_id = view["contact_id"]
        if not _is_row_id(contact_id):
            raise ValidationError(f"{field}.contact_id", "must be a positive integer (a contact's id)")
        contact = session.get(Contact, contact_id)
        return contact.public_id if contact is not None else None
    if view.get("email") is None:
        raise ValidationError(f"{field}.email", "give the contact's email, contact_id or token")
    contact = find_contact(session, normalise_email(view["email"]))
    return contact.public_id if contact is not None else None
