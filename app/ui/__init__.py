"""The web UI for marketers, sales and admins: login, roles, CSRF on every form.

`bp` holds every page; the app factory registers it next to the API's and the public pages'
blueprints, and calls init_ui for what the pages need app-wide (sign-in, CSRF, error pages, filters).
"""
from __future__ import annotations

from flask import Blueprint, Flask, session
from flask_login import LoginManager, current_user, login_user
from flask_wtf.csrf import CSRFProtect

from app.domain.contacts.rules import describe
from app.domain.contacts.users import session_is_current
from app.domain.campaigns.scheduling import format_delay
from app.extensions import db_session
from app.models import User
from app.models.base import MAX_ROW_ID

from .access import nav_for
from .errors import register_error_handlers
from .filters import format_time, humanize, label, relative_time
from .helpers import whole_number

bp = Blueprint("ui", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "ui.login"
login_manager.login_message = "Please sign in to see that page."
login_manager.login_message_category = "info"

ROLE_LABELS = {"admin": "Admin", "marketer": "Marketer", "sales": "Sales rep", "sales_manager": "Sales manager"}


SESSION_VERSION = "_sv"


@login_manager.user_loader
def _load_user(user_id: str):
    """Checked on every request: a deactivated user, or a session ended since, is signed out at once."""
    ident = whole_number(user_id)
    user = db_session().get(User, ident) if ident and ident <= MAX_ROW_ID else None
    return user if session_is_current(user, session.get(SESSION_VERSION)) else None


def start_session(user: User) -> None:
    """Sign this browser in, carrying the user's session version (the signed cookie holds it)."""
    login_user(user)
    session[SESSION_VERSION] = user.session_version


def init_ui(app: Flask) -> None:
    """Sign-in, CSRF on every form, the error pages and the template filters; not the blueprint."""
    csrf.init_app(app)
    login_manager.init_app(app)
    register_error_handlers(app)
    app.add_template_filter(format_time, "dt")
    app.add_template_filter(relative_time, "ago")
    app.add_template_filter(humanize, "human")
    app.add_template_filter(label, "label")
    app.add_template_filter(format_delay, "delay")
    app.add_template_global(describe, "describe_rule")
    app.context_processor(_layout_context)


def _layout_context() -> dict:
    user = current_user if current_user and current_user.is_authenticated else None
    return {"nav": nav_for(user) if user else [], "role_label": ROLE_LABELS.get(user.role, user.role) if user else ""}


# Routes register on import.
from . import views, account, contacts, campaigns, outbox, handoffs, operations, agreement, followup, qr, api_keys, webhooks  # noqa: E402,F401,I001
