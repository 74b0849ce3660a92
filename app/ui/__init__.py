"""The web UI for marketers, sales and admins: login, roles, CSRF on every form."""
from __future__ import annotations

from flask import Flask
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from app.extensions import db_session
from app.models import User

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "ui.login"


@login_manager.user_loader
def _load_user(user_id: str):
    return db_session().get(User, int(user_id)) if user_id.isdigit() else None


def init_ui(app: Flask) -> None:
    from app.api import bp as api_bp
    from app.tracking import bp as tracking_bp

    from .views import bp

    csrf.init_app(app)
    # The API authenticates with bearer keys and tracking links with signatures, not cookies.
    csrf.exempt(api_bp)
    csrf.exempt(tracking_bp)
    login_manager.init_app(app)
    app.register_blueprint(bp)
