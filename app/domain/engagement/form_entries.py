"""What a form submits (an entry), checked as it arrives, and the one path that applies it: the
contact is stored through arrivals.upsert_contact and the form's event recorded. A form about a new
contact is applied at once; one about a contact Nurture already knows is held until the contact
confirms it (engagement.confirmations), and then applied through this same path."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session

from app.models import Contact, Event

from app.domain.contacts.records import parse_contact
from app.domain.errors import ValidationError
from app.domain.engagement.arrivals import upsert_contact
from app.domain.engagement.events import record_event

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
HONEYPOT_FIELD = "website"
EVENT_TYPES = ("form_submitted", "sign_up", "content_download", "demo_request")
CONTACT_FIELDS = ("email", "first_name", "last_name", "company", "title", "industry", "company_size", "country",
                  "timezone", "budget", "timeline")
META_FIELDS = {HONEYPOT_FIELD, "event", "page", "consent_email", "consent_tracking", "nt", "csrf_token"}
MAX_ANSWERS, MAX_ANSWER = 30, 2000


@dataclass(frozen=True)
class Entry:
    """One checked submission. `fields` are the contact fields as submitted (plus consent), kept
    JSON-safe so a held entry is stored and applied later exactly as it would have been now."""
    form: str
    email: str
    event_type: str
    fields: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    url: str | None = None


def check_slug(slug: str) -> str:
    if not SLUG_RE.match(slug or ""):
        raise ValidationError("form", "names a form with lower-case letters, digits and - (e.g. contact-sales)")
    return slug


def _checked(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "on", "yes", "true")


def parse_entry(slug: str, data: Mapping[str, Any], page: str | None) -> Entry | None:
    """The checked entry, or None for a filled honeypot; raises ValidationError naming the field."""
    check_slug(slug)
    if str(data.get(HONEYPOT_FIELD) or "").strip():
        return None
    event_type = str(data.get("event") or "form_submitted")
    if event_type not in EVENT_TYPES:
        raise ValidationError("event", f"must be one of {', '.join(EVENT_TYPES)}")
    fields = {k: data[k] for k in CONTACT_FIELDS if k in data and data[k] not in (None, "")}
    if "email" not in fields:
        raise ValidationError("email", "is required")
    answers = {str(k)[:64]: str(v)[:MAX_ANSWER] for k, v in data.items()
               if k not in CONTACT_FIELDS and k not in META_FIELDS and v not in (None, "")}
    if len(answers) > MAX_ANSWERS:
        raise ValidationError("body", f"holds more than {MAX_ANSWERS} answers")
    consent = {kind: {"granted": value, "basis": "consent", "source": f"form:{slug}"}
               for kind, value in (("email", _checked(data.get("consent_email"))),
                                   ("tracking", _checked(data.get("consent_tracking")))) if value is not None}
    if consent:
        fields["consent"] = consent
    email = parse_contact(fields)["email"]  # every field checked now, not when a held entry is confirmed
    url = page if isinstance(page, str) and page.startswith(("https://", "http://")) else None
    return Entry(form=slug, email=email, event_type=event_type, fields={**fields, "email": email}, answers=answers,
                 url=url[:2000] if url else None)


def apply_entry(session: Session, entry: Entry, *, now: datetime, confirmed: bool,
                occurred_at: datetime | None = None, source: str | None = None) -> tuple[Contact, Event | None, bool]:
    """Store the contact and record the form's event (scoring, autoresponders, handoff follow from
    it). `confirmed`: whether the contact vouched for the text typed in (a key holder or a confirmed
    double opt-in); if not, that text is kept out of subject lines. Returns (contact, event, created)."""
    data = {**entry.fields, **({"source": source} if source else {})}
    contact, created = upsert_contact(session, data, now=now, actor=f"form:{entry.form}", confirmed=confirmed)
    event = record_event(session, contact, entry.event_type, now=now, occurred_at=occurred_at, url=entry.url,
                         properties={"form": entry.form, "answers": entry.answers}, source="form")
    return contact, event, created
