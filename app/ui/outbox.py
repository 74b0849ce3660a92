"""The outbox: what the embedded sender 'sent', readable as the recipient would see it."""
from __future__ import annotations

import email
import email.policy
import re

from flask import abort, render_template

from app.extensions import db_session, services
from app.models import OutboxEmail

from . import bp, queries
from .access import MARKETING, roles_required
from .helpers import email_frame, get_or_404, int_arg, paginate

HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")


@bp.get("/outbox")
@roles_required(*MARKETING)
def outbox():
    page = paginate(db_session(), queries.outbox_query(), int_arg("page", 1))
    return render_template("outbox/list.html", page=page)


@bp.get("/outbox/<int:email_id>")
@roles_required(*MARKETING)
def outbox_email(email_id: int):
    row = get_or_404(OutboxEmail, email_id)
    parsed = email.message_from_string(row.raw, policy=email.policy.default)
    headers = [(name, str(parsed[name])) for name in HEADERS if parsed[name] is not None]
    return render_template("outbox/detail.html", row=row, headers=headers, text=_part(parsed, "plain"),
                           has_html=_part(parsed, "html") is not None)


@bp.get("/outbox/<int:email_id>/html")
@roles_required(*MARKETING)
def outbox_email_html(email_id: int):
    """The HTML part for the page's sandboxed frame, under its own policy (see helpers.email_frame)."""
    html = _part(email.message_from_string(get_or_404(OutboxEmail, email_id).raw, policy=email.policy.default), "html")
    if html is None:
        abort(404, description="This email has no HTML part.")
    return email_frame(display_html(html, services().config.base_url))


def _part(parsed, subtype: str) -> str | None:
    part = parsed.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    try:
        return part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def display_html(html: str, base_url: str) -> str:
    """The email as sent, minus what would make looking at it count as engagement.

    Our own open pixel would record an open from the marketer's browser, and a click inside the
    frame would record a click; so the pixel is dropped and links are aimed at a new window,
    which the iframe's sandbox (no allow-popups) refuses to open.
    """
    pixel = re.compile(r'<img\b[^>]*\bsrc="' + re.escape(base_url) + r'/t/o/[^"]*"[^>]*>', re.I)
    html = pixel.sub("", html)
    base = '<base target="_blank">'
    if re.search(r"<head\b[^>]*>", html, re.I):
        return re.sub(r"(<head\b[^>]*>)", lambda m: m.group(1) + base, html, count=1, flags=re.I)
    return base + html
