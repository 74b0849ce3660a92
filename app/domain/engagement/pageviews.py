"""Page views reported by the marketer's own server (POST /api/v1/pageviews), checked here and then
queued on the same buffered path as the site snippet's beacons."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import Contact
from app.models.base import MAX_ROW_ID

from app.domain.contacts.records import find_contact, normalise_email
from app.domain.engagement import hits as hit_codec
from app.domain.engagement.site import MAX_VIEWS_PER_BEACON
from app.domain.errors import ValidationError
from app.domain.messages.links import CONTACT

MAX_VIEWS_PER_REPORT = MAX_VIEWS_PER_BEACON * 10


def page_view_hits(session: Session, tokens, views: Any, *, at: float, ip: str | None,
                   user_agent: str | None) -> list[str]:
    """The hits to queue for `[{email | contact_id | token, url, title?, seconds?, id?}]`, every view
    checked first (a problem names its place, e.g. views[2].url). A view of an address Nurture does
    not know has nothing to attach to and is left out."""
    if not isinstance(views, list) or not 1 <= len(views) <= MAX_VIEWS_PER_REPORT:
        raise ValidationError("views", f"must be a list of 1 to {MAX_VIEWS_PER_REPORT} page views")
    hits = []
    for i, view in enumerate(views):
        field = f"views[{i}]"
        if not isinstance(view, dict):
            raise ValidationError(field, "must be an object")
        public_id = _identify(session, tokens, view, field)
        extra = _checked_view(view, field)
        if public_id is None:
            continue
        view_id = view.get("id")
        hits.append(hit_codec.encode(hit_codec.PAGE_VIEW, public_id, at=at, ip=ip, user_agent=user_agent, extra=extra,
                                     hit_id=f"{public_id[:16]}{view_id}" if view_id else None))
    return hits


def _checked_view(view: dict, field: str) -> dict[str, Any]:
    url = view.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2000:
        raise ValidationError(f"{field}.url", "must be an http(s) address of at most 2000 characters")
    seconds = view.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not 0 <= seconds <= 86400):
        raise ValidationError(f"{field}.seconds", "must be a number of seconds from 0 to 86400")
    title = view.get("title")
    if title is not None and not isinstance(title, str):
        raise ValidationError(f"{field}.title", "must be a string")
    view_id = view.get("id")
    if view_id is not None and (not isinstance(view_id, str) or not 8 <= len(view_id) <= 32 or not view_id.isalnum()):
        raise ValidationError(f"{field}.id", "must be 8 to 32 letters and digits (your idempotency key)")
    # "server": reported with a key, so not held to a reader's pace (engagement.pace)
    return {"u": url, "ti": (title or "")[:300] or None, "s": seconds, "n": 1, "server": True}


def _identify(session: Session, tokens, view: dict, field: str) -> str | None:
    if view.get("token") is not None:
        verified = tokens.verify(CONTACT, view["token"]) if isinstance(view["token"], str) else None
        if verified is None:
            raise ValidationError(f"{field}.token", "is not a valid Nurture contact token (the nt value)")
        return verified[0]
    if view.get("contact_id") is not None:
        contact_id = view["contact_id"]
        if isinstance(contact_id, bool) or not isinstance(contact_id, int) or not 0 < contact_id <= MAX_ROW_ID:
            raise ValidationError(f"{field}.contact_id", "must be a positive integer (a contact's id)")
        contact = session.get(Contact, contact_id)
        return contact.public_id if contact is not None else None
    if view.get("email") is None:
        raise ValidationError(f"{field}.email", "give the contact's email, contact_id or token")
    contact = find_contact(session, normalise_email(view["email"]))
    return contact.public_id if contact is not None else None
