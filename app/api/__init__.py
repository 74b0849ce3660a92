"""The JSON API under /api/v1, authenticated by `Authorization: Bearer <key>`."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import errors, contacts, handoffs, reports, agreement, tracking  # noqa: E402,F401  (routes register on import)
