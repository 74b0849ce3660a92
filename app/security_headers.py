"""The security headers of every answer Flask gives (the tracking fast path sets its own): no MIME
sniffing, no framing (the embeddable form only by the marketer's own sites), no referrer beyond our
own pages, and a Content-Security-Policy under which pages run only the product's own scripts and
styles (app/ui/static). A view that sets one of these headers itself keeps its own."""
from __future__ import annotations

from flask import Response, request
from sqlalchemy.exc import SQLAlchemyError

from app.domain.engagement.site import site_domains
from app.extensions import db_session

_PAGE = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'"
UI_POLICY = _PAGE + "; form-action 'self'; frame-ancestors 'none'"
# Public pages leave form-action out: a form posted on the marketer's site may redirect back to it.
PUBLIC_POLICY = _PAGE + "; frame-ancestors 'none'"
API_POLICY = "default-src 'none'; frame-ancestors 'none'"  # JSON and images: nothing to run, style or frame
FRAMEABLE = {"tracking.form_page", "tracking.form_post"}  # the form a marketer embeds in an iframe


def _area() -> str:
    if request.blueprint == "api" or request.path.startswith("/api/"):
        return "api"
    if request.blueprint == "tracking" or request.path.startswith(("/u/", "/f/", "/t/")):
        return "public"
    return "ui"


def form_ancestors() -> str:
    """Who may frame the form: our own pages and the marketer's sites (`nurture tracking domains`)."""
    try:
        domains = site_domains(db_session())
    except SQLAlchemyError:  # the database is away: the page still answers, framed by no one else
        domains = ()
    return " ".join(["'self'"] + [f"{d} *.{d}" for d in domains])


def add_security_headers(response: Response) -> Response:
    headers, area = response.headers, _area()
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if area == "api" and response.mimetype != "text/html":
        policy = API_POLICY
    else:
        policy = PUBLIC_POLICY if area == "public" else UI_POLICY
    if request.endpoint in FRAMEABLE:
        policy = policy.replace("frame-ancestors 'none'", f"frame-ancestors {form_ancestors()}")
    elif "X-Frame-Options" not in headers:
        headers["X-Frame-Options"] = "DENY"
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = policy
    headers.setdefault("Referrer-Policy", "same-origin" if area == "ui" else "no-referrer")
    return response
