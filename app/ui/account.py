"""The signed-in user's own account: who they are, and changing their password."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from app.domain.contacts import users
from app.domain.errors import Throttled, ValidationError
from app.extensions import db_session, services

from . import SESSION_VERSION, bp

LABELS = {"current_password": "Current password", "new_password": "New password",
          "new_password_again": "The repeated new password"}


@bp.get("/account")
@login_required
def account():
    return _page()


@bp.post("/account/password")
@login_required
def change_password():
    """A new password ends the user's other sessions; this one takes the new version and stays signed in."""
    form, me = request.form, current_user._get_current_object()
    try:
        user = users.change_password(db_session(), services().redis, me, form.get("current_password", ""),
                                     form.get("new_password", ""), form.get("new_password_again", ""),
                                     now=services().now())
    except Throttled as exc:
        return _page(exc.message, 429, {"Retry-After": str(exc.retry_after)})
    except ValidationError as exc:
        return _page(f"{LABELS.get(exc.field, exc.field)} {exc.message}.", 400)
    db_session().commit()
    session[SESSION_VERSION] = user.session_version
    flash("Your password is changed. Anywhere else you were signed in, you are now signed out.", "success")
    return redirect(url_for("ui.account"))


def _page(error: str | None = None, status: int = 200, headers: dict | None = None):
    return render_template("account.html", error=error, min_length=users.MIN_PASSWORD), status, headers or {}
