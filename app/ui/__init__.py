"""The web UI for marketers, sales and admins: login, roles, CSRF on every form."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Flask
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from app.domain.contacts.rules import describe
from app.domain.campaigns.scheduling import format_delay
from app.extensions import db_session, services
from app.models import User

from .access import nav_for
from .helpers import MAX_ID, whole_number

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "ui.login"
login_manager.login_message = "Please sign in to see that page."
login_manager.login_message_category = "info"

ROLE_LABELS = {"admin": "Admin", "marketer": "Marketer", "sales": "Sales rep", "sales_manager": "Sales manager"}


@login_manager.user_loader
def _load_user(user_id: str):
    ident = whole_number(user_id)
    return db_session().get(User, ident) if ident and ident <= MAX_ID else None


def init_ui(app: Flask) -> None:
    from app.api import bp as api_bp
    from app.tracking import bp as tracking_bp

    from . import campaigns, contacts, handoffs, operations, outbox, views
    from .errors import register_error_handlers

    csrf.init_app(app)
    # The API authenticates with bearer keys and tracking links with signatures, not cookies.
    csrf.exempt(api_bp)
    csrf.exempt(tracking_bp)
    login_manager.init_app(app)
    # A fresh blueprint per app: tests build many apps, and a registered blueprint takes no new routes.
    bp = Blueprint("ui", __name__)
    for module in (views, contacts, campaigns, outbox, handoffs, operations):
        module.register(bp)
    from . import agreement, followup  # the agreement, what-if, evidence, lead reviews, follow-up

    for module in (agreement, followup):
        module.register(bp)
    app.register_blueprint(bp)
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


def _parse(value):
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


def format_time(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times are stored in UTC and shown in UTC, labelled so nobody guesses."""
    moment = _parse(value)
    if moment is None:
        return value if isinstance(value, str) and value else "—"
    return moment.strftime(fmt) + (" UTC" if moment.tzinfo else "")


def relative_time(value) -> str:
    """'in 2 days', '3 hours ago', against the app's clock."""
    moment = _parse(value)
    if moment is None or moment.tzinfo is None:
        return ""
    seconds = (moment - services().now()).total_seconds()
    span = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if span >= size:
            n = int(span // size)
            text = f"{n} {unit}{'' if n == 1 else 's'}"
            break
    else:
        return "just now"
    return f"in {text}" if seconds > 0 else f"{text} ago"


ACRONYMS = {"mql": "MQL", "sal": "SAL"}


def humanize(value) -> str:
    """`handed_off` → 'handed off', for stage, status and event names; MQL and SAL stay upper case."""
    return " ".join(ACRONYMS.get(word, word) for word in str(value or "").replace("_", " ").split(" "))


def label(value) -> str:
    """Like humanize, with a capital first letter: 'Handed off', 'MQL'."""
    text = humanize(value)
    return text[:1].upper() + text[1:]
