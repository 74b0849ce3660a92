"""The JSON API under /api/v1, authenticated by `Authorization: Bearer <key>`."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1", template_folder="templates")

# Routes register on import.
from . import errors, contacts, handoffs, reports, agreement, privacy, qr, forms, pageviews, webhooks  # noqa: E402,F401
from . import catalog, enrollments, listing  # noqa: E402,F401
from . import openapi, limits  # noqa: E402,F401  (after the routes they document and limit)
