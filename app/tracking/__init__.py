"""Public tracking and preference endpoints (no login, signed tokens instead).

The hot paths (/t/o pixel, /t/c click, /t/q QR scan, /t/s snippet and beacons) are answered by
fastpath.TrackingMiddleware before Flask sees the request; the pages here are the rest: unsubscribe
and preferences, forward to a colleague, forms, and the safe pages a bad or stale link lands on.
"""
from flask import Blueprint

bp = Blueprint("tracking", __name__)

from . import forms, pages  # noqa: E402,F401  (routes register on import)
