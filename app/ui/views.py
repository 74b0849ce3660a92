"""Signing in and out, and the dashboard: the funnel, the mail flow, recent handoffs and events."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from app.domain.contacts import users
from app.domain.errors import Throttled, ValidationError
from app.extensions import db_session, services

from . import SESSION_VERSION, bp, queries, start_session
from .access import DASHBOARD, SALES, home_endpoint, roles_required


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: a login link must never bounce to somebody else's."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET" and home_endpoint(current_user) != "ui.login":
        return redirect(_safe_next(request.args.get("next")) or url_for(home_endpoint(current_user)))
    email = request.form.get("email", "").strip().lower()
    if request.method == "GET":
        return _login_page(None, email)
    try:
        user = users.sign_in(db_session(), services().redis, email, request.form.get("password", ""),
                             address=request.remote_addr, now=services().now())
    except Throttled as exc:
        return _login_page(exc.message, email, 429, {"Retry-After": str(exc.retry_after)})
    except ValidationError as exc:
        return _login_page(exc.message, email, 401)
    start_session(user)
    return redirect(_safe_next(request.form.get("next")) or url_for(home_endpoint(user)))


def _login_page(error: str | None, email: str, status: int = 200, headers: dict | None = None):
    return render_template("login.html", error=error, email=email,
                           next=_safe_next(request.values.get("next")) or ""), status, headers or {}


@bp.post("/logout")
def logout():
    """Ends every session of the user, not only this browser's: a cookie copied earlier stops working too."""
    if current_user.is_authenticated:
        users.sign_out(db_session(), current_user.id)
        db_session().commit()
    logout_user()
    session.pop(SESSION_VERSION, None)
    return redirect(url_for("ui.login"))


@bp.get("/")
def home():
    """The dashboard for those who have one; a sales manager lands on the handoffs."""
    if not current_user.is_authenticated:
        return redirect(url_for("ui.login"))
    return redirect(url_for(home_endpoint(current_user)))


@bp.get("/dashboard")
@roles_required(*DASHBOARD)
def dashboard():
    session = db_session()
    own = current_user.id if current_user.role == SALES else None
    stages = queries.stage_counts(session)
    return render_template(
        "dashboard.html", stages=stages, funnel=[(s, stages[str(s)]) for s in queries.FUNNEL],
        off_funnel=[(s, stages[str(s)]) for s in queries.OFF_FUNNEL], funnel_max=max(stages.values() or [0]) or 1,
        messages=queries.message_status_counts(session), handoffs=queries.recent_handoffs(session, rep_id=own),
        events=queries.recent_events(session), own_handoffs=own is not None)
