"""WSGI entry point for gunicorn: `gunicorn app.wsgi:app`."""
import sys

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # one line naming the variable, not a traceback; 3 tells gunicorn not to retry
    print(f"nurture: {exc}", file=sys.stderr)
    sys.exit(3)
