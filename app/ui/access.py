"""Who may see what: the role sets every view and the navigation read from, in one place."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from app.models import Handoff, Role, User

ADMIN, MARKETER, SALES, MANAGER = Role.ADMIN.value, Role.MARKETER.value, Role.SALES.value, Role.SALES_MANAGER.value

# Admin is allowed everywhere; these name the other roles that may open each area.
DASHBOARD = (MARKETER, SALES)
CONTACTS = (MARKETER, SALES, MANAGER)
MARKETING = (MARKETER,)  # personas, campaigns, outbox
HANDOFFS = (MARKETER, SALES, MANAGER)
AGREEMENT = (MARKETER, MANAGER)  # marketing edits it; sales managers read it and its evidence
REVIEWS = (MARKETER, SALES, MANAGER)

NAV = (
    ("Dashboard", "ui.dashboard", DASHBOARD),
    ("Contacts", "ui.contacts", CONTACTS),
    ("Personas", "ui.personas", MARKETING),
    ("Campaigns", "ui.campaigns", MARKETING),
    ("Outbox", "ui.outbox", MARKETING),
    ("Handoffs", "ui.handoffs", HANDOFFS),
    ("Lead reviews", "ui.reviews", REVIEWS),
    ("Agreement", "ui.agreement", AGREEMENT),
    ("Operations", "ui.operations", ()),  # admins only
    ("API keys", "ui.api_keys", ()),  # admins only
    ("Webhooks", "ui.webhooks", ()),  # admins only
)


def has_role(user, roles) -> bool:
    return bool(user and user.is_authenticated and (user.role == ADMIN or user.role in roles))


def roles_required(*roles: str):
    """Signed in, and admin or one of `roles`; anyone else gets the friendly 403 page."""
    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not has_role(current_user, roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


def nav_for(user) -> list[tuple[str, str]]:
    return [(label, endpoint) for label, endpoint, roles in NAV if has_role(user, roles)]


def sees_all_handoffs(user: User) -> bool:
    return user.role in (ADMIN, MARKETER, MANAGER)


def may_view_handoff(user: User, handoff: Handoff) -> bool:
    return sees_all_handoffs(user) or handoff.rep_id == user.id


def home_endpoint(user) -> str:
    if user.role == MANAGER:
        return "ui.handoffs"
    allowed = nav_for(user)
    return allowed[0][1] if allowed else "ui.login"
