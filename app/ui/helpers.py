"""Small request helpers shared by the views: strict arguments, lookups that 404, pages of rows."""
from __future__ import annotations

import re
from dataclasses import dataclass
from math import ceil
from typing import Any

from flask import Response, abort, request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.extensions import db_session
from app.models.base import MAX_ROW_ID

PER_PAGE = 50
# An email shown in a page's sandboxed frame keeps its own inline styles and remote images; nothing in
# it runs, and only our own pages may frame it (the UI's policy allows our stylesheet only).
EMAIL_FRAME_POLICY = ("default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline' https:; "
                      "font-src https: data:; form-action 'none'; frame-ancestors 'self'")
WHOLE = re.compile(r"[0-9]{1,9}")


def whole_number(raw: str) -> int | None:
    """ASCII digits only: '²' and '١' pass str.isdigit() but are not page numbers."""
    return int(raw) if WHOLE.fullmatch(raw) else None


def int_arg(name: str, default: int | None = None, *, minimum: int = 1) -> int | None:
    """A whole-number query argument; anything else is the client's mistake (400), never a 500."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    number = whole_number(raw)
    if number is None or number < minimum:
        abort(400, description=f"'{name}' must be a whole number of at least {minimum}.")
    return number


def choice_arg(name: str, allowed) -> str | None:
    raw = request.args.get(name, "").strip()
    if raw and raw not in allowed:
        abort(400, description=f"'{name}' must be one of: {', '.join(allowed)}.")
    return raw or None


def email_frame(html: str) -> Response:
    """The HTML of an email for `<iframe sandbox src=…>` on our own pages."""
    return Response(html, mimetype="text/html", headers={
        "Content-Security-Policy": EMAIL_FRAME_POLICY, "X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": "no-referrer"})


def get_or_404(model, ident: int):
    row = db_session().get(model, ident) if 0 < ident <= MAX_ROW_ID else None
    if row is None:
        abort(404, description=f"No {model.__name__.lower()} with id {ident}.")
    return row


@dataclass
class Page:
    items: list[Any]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.items)


def paginate(session: Session, query: Select, number: int, per_page: int = PER_PAGE) -> Page:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = session.scalars(query.limit(per_page).offset((number - 1) * per_page)).unique().all()
    return Page(items=list(items), number=number, per_page=per_page, total=total or 0)
