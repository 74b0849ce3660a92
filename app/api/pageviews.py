"""Page views reported by the marketer's server over the JSON API, queued like the site snippet's beacons."""
from __future__ import annotations

from flask import jsonify, request

from app.domain.contacts.records import find_contact, normalise_email
from app.domain.engagement import buffer
from app.domain.engagement import hits as hit_codec
from app.domain.engagement.site import MAX_VIEWS_PER_BEACON
from app.domain.errors import ValidationError
from app.domain.messages.links import CONTACT
from app.extensions import db_session, services
from app.models import Contact

from . import bp
from .auth import require_api_key
from .inputs import is_row_id, json_body


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
        if not is_row_id(contact_id):
            raise ValidationError(f"{field}.contact_id", "must be a positive integer (a contact's id)")
        contact = session.get(Contact, contact_id)
        return contact.public_id if contact is not None else None
    if view.get("email") is None:
        raise ValidationError(f"{field}.email", "give the contact's email, contact_id or token")
    contact = find_contact(session, normalise_email(view["email"]))
    return contact.public_id if contact is not None else None
