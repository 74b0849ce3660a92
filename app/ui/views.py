"""Web UI views (placeholder until the UI lands)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from app.extensions import db_session
from app.models import User

bp = Blueprint("ui", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        user = db_session().scalar(select(User).where(User.email == request.form.get("email", "").strip().lower()))
        if user and user.active and user.check_password(request.form.get("password", "")):
            login_user(user)
            return redirect(url_for("ui.dashboard"))
        error = "Wrong email or password."
    return render_template("login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("ui.login"))


@bp.get("/")
@login_required
def dashboard():
    return render_template("base.html", user=current_user)
