"""Contacts and suppressions a page at a time, for a CRM that syncs: filters, and an opaque cursor that
carries on after the last row of the previous page (ordered by id, so rows added meanwhile come last)."""
from __future__ import annotations

import base64
import re
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.domain.contacts.inputs import check_text, parse_time
from app.domain.errors import ValidationError
from app.models import Contact, EmailStatus, Persona, Stage
from app.models.base import MAX_ROW_ID
from app.models.event import Suppression

MAX_PAGE = 200
GRADES = ("A", "B", "C", "D")
CURSOR_RE = re.compile(r"^after:(\d{1,19})$")


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    found = CURSOR_RE.match(text)
    if not found or int(found[1]) > MAX_ROW_ID:
        raise ValidationError("cursor", "is not a cursor this API gave (pass the `next` of the previous page)")
    return int(found[1])


def page_size(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError("limit", f"must be a whole number from 1 to {MAX_PAGE}")
    return limit


def _choice(value: str | None, allowed, field: str) -> str | None:
    if value in (None, ""):
        return None
    if value not in [str(a) for a in allowed]:
        raise ValidationError(field, f"must be one of {', '.join(str(a) for a in allowed)}")
    return value


def list_contacts(session: Session, *, persona: str | None = None, stage: str | None = None,
                  grade: str | None = None, email_status: str | None = None, updated_since: str | None = None,
                  q: str | None = None, cursor: str | None = None, limit: int = 50) -> tuple[list[Contact], str | None]:
    """One page of contacts matching every filter given, and the cursor of the next page (None at the end)."""
    query = select(Contact).where(Contact.id > decode_cursor(cursor)).order_by(Contact.id)
    if persona:
        query = query.join(Persona, Contact.persona_id == Persona.id).where(Persona.slug == check_text(persona, "persona"))
    for column, value, allowed, field in ((Contact.stage, stage, Stage, "stage"), (Contact.grade, grade, GRADES, "grade"),
                                          (Contact.email_status, email_status, EmailStatus, "email_status")):
        if _choice(value, allowed, field):
            query = query.where(column == value)
    since = parse_time(updated_since, "updated_since")
    if since is not None:
        query = query.where(Contact.updated_at >= since)
    if q:
        if len(q) > 200:
            raise ValidationError("q", "is longer than 200 characters")
        like = "%" + check_text(q, "q").lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(*(column.ilike(like, escape="\\") for column in (
            Contact.email, Contact.first_name, Contact.last_name, Contact.company))))
    return _page(session, query, page_size(limit))


def list_suppressions(session: Session, *, cursor: str | None = None, limit: int = 50) -> tuple[list[Suppression], str | None]:
    """Addresses that may never be added again (kept only as hashes), oldest first."""
    query = select(Suppression).where(Suppression.id > decode_cursor(cursor)).order_by(Suppression.id)
    return _page(session, query, page_size(limit))


def _page(session: Session, query, limit: int):
    rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id) if more else None
