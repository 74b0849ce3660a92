"""Forms on the marketer's site: create or update the contact, record the event, fire autoresponders.

Spam protection: a hidden honeypot field (`website`) that people never fill (a filled one is
answered as a success and recorded nowhere), and a per-address rate limit kept in Redis.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session

from app.infra import counters
from app.models import Contact, Event

from app.domain.errors import ValidationError
from app.domain.contacts.records import find_contact
from app.domain.engagement.arrivals import upsert_contact
from app.domain.engagement.events import record_event

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
HONEYPOT_FIELD = "website"
EVENT_TYPES = ("form_submitted", "sign_up", "content_download", "demo_request")
CONTACT_FIELDS = ("email", "first_name", "last_name", "company", "title", "industry", "company_size", "country",
                  "timezone", "budget", "timeline")
META_FIELDS = {HONEYPOT_FIELD, "event", "page", "consent_email", "consent_tracking", "nt", "csrf_token"}
MAX_ANSWERS, MAX_ANSWER = 30, 2000
RATE_PER_MINUTE = 10


@dataclass
class Submission:
    spam: bool = False
    contact: Contact | None = None
    event: Event | None = None
    created: bool = False


def check_slug(slug: str) -> str:
    if not SLUG_RE.match(slug or ""):
        raise ValidationError("form", "names a form with lower-case letters, digits and - (e.g. contact-sales)")
    return slug


def allowed(redis, ip: str | None, *, per_minute: int = RATE_PER_MINUTE, clock=time.time) -> bool:
    """At most `per_minute` submissions from one address in any 60 seconds; if Redis is away, let it through.

    A sliding log (one sorted set per address) rather than per-clock-minute counters: those let a visitor
    send twice the limit across a minute's boundary. Refused attempts count too, so a flood stays refused,
    and the log is trimmed to the newest `per_minute + 1` entries so a flood cannot grow it."""
    try:
        count = counters.log_attempt(redis, f"form:{ip or 'unknown'}", now=clock(), window=60, keep=per_minute + 1)
    except Exception:
        return True
    return count <= per_minute


def _checked(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "on", "yes", "true")


def submit(session: Session, slug: str, data: Mapping[str, Any], *, now: datetime, page: str | None = None) -> Submission:
    """Validate and record one submission; raises ValidationError naming the field."""
    check_slug(slug)
    if str(data.get(HONEYPOT_FIELD) or "").strip():
        return Submission(spam=True)
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
    existed = isinstance(fields["email"], str) and find_contact(session, fields["email"].strip().lower()) is not None
    if not existed:
        fields["source"] = f"form:{slug}"
    consent = {kind: {"granted": value, "basis": "consent", "source": f"form:{slug}"}
               for kind, value in (("email", _checked(data.get("consent_email"))),
                                   ("tracking", _checked(data.get("consent_tracking")))) if value is not None}
    if consent:
        fields["consent"] = consent
    contact, created = upsert_contact(session, fields, now=now, actor=f"form:{slug}")
    url = page if isinstance(page, str) and page.startswith(("https://", "http://")) else None
    event = record_event(session, contact, event_type, now=now, url=url[:2000] if url else None,
                         properties={"form": slug, "answers": answers}, source="form")
    return Submission(contact=contact, event=event, created=created)
