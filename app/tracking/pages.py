"""Unsubscribe (RFC 8058), the preference page, forward to a colleague, and the safe fallback pages."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, render_template, request

from app.domain.engagement import destinations as engagement
from app.domain.campaigns import preferences
from app.domain.engagement.forwarding import record_forward, web_version
from app.domain.messages.links import UNSUBSCRIBE
from app.extensions import db_session, services

from . import bp


@bp.route("/t/invalid", methods=["GET", "HEAD", "POST"])
def invalid():
    """Where a forged, tampered or unknown token lands: our own page, never a redirect."""
    return render_template("tracking/link_invalid.html"), 404


@bp.route("/t/unavailable", methods=["GET", "HEAD"])
def unavailable():
    """A valid click while the database is away and the link is not cached: recorded, try again."""
    return render_template("tracking/unavailable.html"), 503, {"Retry-After": "30"}


def _message(token: str):
    """The message an unsubscribe-purpose token names, or None."""
    verified = services().tokens.verify(UNSUBSCRIBE, token)
    if verified is None:
        return None
    return engagement.find_message(db_session(), verified[0])


def _not_valid(template: str = "tracking/unsubscribe.html", **context):
    return render_template(template, token=None, valid=False, done=False, **context), 404


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
        return _not_valid()
    session = db_session()
    how = "one-click" if request.form.get("List-Unsubscribe") == "One-Click" else "page"
    engagement.unsubscribe(session, verified[0], now=services().now(), how=how)
    session.commit()
    return render_template("tracking/unsubscribe.html", token=token, valid=True, done=True)


@bp.route("/u/<token>/preferences", methods=["GET", "HEAD", "POST"])
def preference_page(token: str):
    """Pause for 30 days, choose campaigns, or leave all; GET only shows the choices."""
    message = _message(token)
    if message is None or message.contact is None:
        return _not_valid("tracking/preferences.html", topics=[], contact=None, saved=None)
    session, contact, now = db_session(), message.contact, services().now()
    saved = None
    if request.method == "POST":
        action = request.form.get("action")
        if action == "pause":
            until = preferences.pause(session, contact, now=now)
            saved = f"Paused until {until:%d %B %Y}."
        elif action == "resume":
            preferences.resume(session, contact, now=now)
            saved = "Welcome back: emails resume."
        elif action == "topics":
            keep = [int(v) for v in request.form.getlist("keep") if v.isdigit() and len(v) < 10]
            preferences.choose(session, contact, keep, now=now)
            saved = "Your choices are saved."
        elif action == "leave":
            engagement.unsubscribe(session, message.public_id, now=now, how="preferences")
            saved = "You are unsubscribed from all marketing emails."
        else:
            return render_template("tracking/preferences.html", token=token, valid=True, contact=contact,
                                   topics=preferences.topics(session, contact), saved=None,
                                   error="Choose one of the buttons."), 400
        session.commit()
    return render_template("tracking/preferences.html", token=token, valid=True, contact=contact,
                           topics=preferences.topics(session, contact), saved=saved, now=now)


@bp.route("/u/<token>/forward", methods=["GET", "HEAD", "POST"])
def forward(token: str):
    """Forward to a colleague: GET shows the page; the POST records the forward and opens the mail app."""
    message = _message(token)
    if message is None:
        return _not_valid("tracking/forward.html", mailto=None)
    view_url = f"{services().config.base_url}/u/{token}/view"
    subject = f"Fwd: {message.subject}" if message.subject else "Worth a look"
    mailto = f"mailto:?subject={quote(subject)}&body={quote('I thought this might interest you: ' + view_url)}"
    recorded = False
    if request.method == "POST":
        session = db_session()
        recorded = record_forward(session, message, now=services().now(), user_agent=request.headers.get("User-Agent"),
                                  ip=request.remote_addr) is not None
        session.commit()
    return render_template("tracking/forward.html", token=token, valid=True, message=message, mailto=mailto,
                           view_url=view_url, sent=request.method == "POST", recorded=recorded)


@bp.route("/u/<token>/view", methods=["GET", "HEAD"])
def view(token: str):
    """The email as a web page, for the colleague it was forwarded to: no pixel, the original links."""
    message = _message(token)
    html = web_version(services(), message) if message is not None else None
    if html is None:
        return _not_valid("tracking/link_invalid.html")
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": "script-src 'none'",
                                                         "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"})
