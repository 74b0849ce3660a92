"""Contact records: validation and normalisation of input, lookup, and storing a contact's fields."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Contact
from app.models.base import MAX_INT

from app.domain.contacts.consent import parse_consent
from app.domain.contacts.privacy import refuse_if_suppressed
from app.domain.errors import ValidationError

EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
CUSTOM_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
TIMELINE_RE = re.compile(r"^\s*(\d{1,3})\s*(d|day|days|w|week|weeks|m|month|months|y|year|years)\s*$", re.I)
TEXT_FIELDS = {"first_name": 200, "last_name": 200, "company": 300, "title": 300, "source": 200}
ALLOWED = set(TEXT_FIELDS) | {"email", "industry", "company_size", "budget", "timeline", "timeline_months",
                              "country", "timezone", "fields", "consent"}


def normalise_email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("email", "is required")
    email = value.strip().lower()
    if len(email) > 320 or not EMAIL_RE.match(email):
        raise ValidationError("email", f"{value!r} is not a valid email address")
    return email


def _text(field: str, value: Any, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    if CONTROL_RE.search(value):  # before trimming: a stray CR/LF at either end is refused too
        raise ValidationError(field, "must not contain control characters or line breaks")
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(field, f"is longer than {limit} characters")
    return value


def _whole_number(field: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (isinstance(value, str) and not value.strip().isdigit()):
        raise ValidationError(field, f"must be a whole number ≥ 0, got {value!r}")
    try:
        number = int(value)
    except ValueError:  # digits int() refuses ('²') or more than Python's 4300-digit limit
        raise ValidationError(field, f"must be a whole number ≥ 0, got {value!r:.40}") from None
    if number < 0 or number > MAX_INT:  # the column is a 32-bit INTEGER on PostgreSQL
        raise ValidationError(field, f"must be between 0 and {MAX_INT}, got {number}")
    return number


def parse_timeline(value: Any) -> int | None:
    """Months until purchase: 3, "3", "3 months", "6w", "1 year", "now"."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() in ("now", "immediate", "immediately", "asap"):
        return 0
    if isinstance(value, str) and (m := TIMELINE_RE.match(value)):
        n, unit = int(m.group(1)), m.group(2)[0].lower()
        return {"d": (n + 29) // 30, "w": (n * 7 + 29) // 30, "m": n, "y": n * 12}[unit]
    try:
        return _whole_number("timeline", value)
    except ValidationError:
        raise ValidationError("timeline", f"must be months as a number or text like '3 months', '6 weeks', 'now'; got {value!r}") from None


def parse_contact(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validated, normalised contact fields; raises ValidationError naming the first bad field."""
    if not isinstance(data, Mapping):
        raise ValidationError("body", "must be a JSON object")
    unknown = sorted(set(data) - ALLOWED)
    if unknown:
        raise ValidationError(unknown[0], "is not a contact field (put custom data under 'fields')")
    out: dict[str, Any] = {}
    if not partial or "email" in data:
        out["email"] = normalise_email(data.get("email"))
    for name, limit in TEXT_FIELDS.items():
        if name in data:
            out[name] = _text(name, data[name], limit)
    if "industry" in data:
        industry = _text("industry", data["industry"], 200)
        out["industry"] = (re.sub(r"[^a-z0-9]+", "_", industry.lower()).strip("_") or None) if industry else None
    for name in ("company_size", "budget"):
        if name in data:
            out[name] = _whole_number(name, data[name])
    if "timeline" in data or "timeline_months" in data:
        out["timeline_months"] = parse_timeline(data.get("timeline", data.get("timeline_months")))
    if "country" in data:
        country = _text("country", data["country"], 2)
        if country and not re.fullmatch(r"[A-Za-z]{2}", country):
            raise ValidationError("country", f"must be a two-letter ISO 3166 code, got {data['country']!r}")
        out["country"] = country.upper() if country else None
    if "timezone" in data:
        out["timezone"] = _timezone(data["timezone"])
    if "fields" in data:
        out["fields"] = _custom_fields(data["fields"])
    if "consent" in data:
        out["consent"] = parse_consent(data["consent"])
    return out


def _timezone(value: Any) -> str | None:
    tz = _text("timezone", value, 64)
    if tz is None:
        return None
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a tzdata folder such as 'America'
        raise ValidationError("timezone", f"{tz!r} is not an IANA time zone such as Europe/Paris") from None
    return tz


def _custom_fields(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError("fields", "must be an object of name → value")
    for key, v in value.items():
        if not isinstance(key, str) or not CUSTOM_KEY_RE.match(key):
            raise ValidationError(f"fields.{key}", "names start with a letter and use letters, digits and _")
        if not (v is None or isinstance(v, (str, int, float, bool))):
            raise ValidationError(f"fields.{key}", "must be a string, number, boolean or null")
        if isinstance(v, str) and len(v) > 2000:
            raise ValidationError(f"fields.{key}", "is longer than 2000 characters")
    return dict(value)


def rule_fields(contact: Contact) -> dict[str, Any]:
    """The contact as the rules engine and templates see it."""
    return {
        "email": contact.email, "email_domain": contact.email_domain, "first_name": contact.first_name,
        "last_name": contact.last_name, "company": contact.company, "title": contact.title,
        "industry": contact.industry, "company_size": contact.company_size, "budget": contact.budget,
        "timeline_months": contact.timeline_months, "country": contact.country, "timezone": contact.timezone,
        "source": contact.source, "fields": dict(contact.fields or {}),
    }


def find_contact(session: Session, email: str) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.email == email))


def store_contact(session: Session, values: dict[str, Any], *, now: datetime) -> tuple[Contact, bool]:
    """Create or update the contact by its (parsed, normalised) email. Returns (contact, created).
    An address erased at the person's request is never added again."""
    contact = find_contact(session, values["email"])
    if contact is None:
        refuse_if_suppressed(session, values["email"])
    created = contact is None
    if created:
        contact = Contact(email=values["email"], created_at=now, updated_at=now, fields={},
                          score=0, grade="D", score_reasons=[], fit_reasons={})
        session.add(contact)
    for name, value in values.items():
        if name == "fields":
            contact.fields = {**(contact.fields or {}), **value}
        else:
            setattr(contact, name, value)
    contact.email_domain = contact.email.rsplit("@", 1)[1]
    contact.updated_at = now
    session.flush()
    return contact, created
