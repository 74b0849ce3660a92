"""Signing in and out, and the dashboard: the funnel, the mail flow, recent handoffs and events."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from app.extensions import db_session
from app.models import User

from . import bp, queries
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
    error = None
    email = request.form.get("email", "").strip().lower()
    if request.method == "POST":
        user = db_session().scalar(select(User).where(User.email == email))
        if user and user.active and user.check_password(request.form.get("password", "")):
            login_user(user)
            return redirect(_safe_next(request.form.get("next")) or url_for(home_endpoint(user)))
        error = "Wrong email or password."
    return render_template("login.html", error=error, email=email,
                           next=_safe_next(request.values.get("next")) or ""), 401 if error else 200


@bp.post("/logout")
def logout():
    logout_user()
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
