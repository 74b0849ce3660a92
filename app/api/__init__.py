"""The JSON API under /api/v1, authenticated by `Authorization: Bearer <key>`."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Routes register on import.
from . import errors, contacts, handoffs, reports, agreement, privacy, qr, forms, pageviews  # noqa: E402,F401
