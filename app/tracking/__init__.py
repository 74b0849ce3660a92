"""Tracking endpoints: they verify the token, record, and always answer (a pixel or a redirect)."""
from __future__ import annotations

import base64
import logging

from flask import Blueprint, Response, redirect, render_template, request, url_for

from app.domain import engagement
from app.domain.tracking import CLICK, OPEN, UNSUBSCRIBE
from app.extensions import db_session, services

bp = Blueprint("tracking", __name__)
log = logging.getLogger(__name__)
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}


def _client_ip() -> str | None:
    return request.remote_addr


@bp.route("/t/o/<token>.gif", methods=["GET", "HEAD"])
def open_pixel(token: str):
    verified = services().tokens.verify(OPEN, token)
    if verified:
        try:
            session = db_session()
            engagement.record_open(session, verified[0], method=request.method,
                                   user_agent=request.headers.get("User-Agent"), ip=_client_ip(), now=services().now())
            session.commit()
        except Exception:  # the pixel always answers; the failure is logged
            log.exception("could not record open")
    return Response(PIXEL, mimetype="image/gif", headers=NO_CACHE)


@bp.route("/t/c/<token>", methods=["GET", "HEAD"])
def click(token: str):
    verified = services().tokens.verify(CLICK, token)
    target = None
    if verified and verified[1] is not None:
        session = db_session()
        target = engagement.record_click(session, services(), verified[0], verified[1], method=request.method,
                                         user_agent=request.headers.get("User-Agent"), ip=_client_ip(),
                                         now=services().now())
        session.commit()
    if target is None:  # forged or stale: never an open redirect, just our own safe page
        return render_template("tracking/link_invalid.html"), 404
    return redirect(target, code=302)


@bp.route("/u/<token>", methods=["GET", "HEAD"])
def unsubscribe_page(token: str):
    """Scanners prefetch links, so GET only shows the confirmation; it never unsubscribes."""
    valid = services().tokens.verify(UNSUBSCRIBE, token) is not None
    return render_template("tracking/unsubscribe.html", token=token, valid=valid, done=False), 200 if valid else 404


@bp.post("/u/<token>")
def unsubscribe(token: str):
    """RFC 8058 one-click: a POST with List-Unsubscribe=One-Click, no login, cookie or CSRF token."""
    verified = services().tokens.verify(UNSUBSCRIBE, token)
    if verified is None:
        return render_template("tracking/unsubscribe.html", token=token, valid=False, done=False), 404
    session = db_session()
    how = "one-click" if request.form.get("List-Unsubscribe") == "One-Click" else "page"
    engagement.unsubscribe(session, verified[0], now=services().now(), how=how)
    session.commit()
    return render_template("tracking/unsubscribe.html", token=token, valid=True, done=True)
