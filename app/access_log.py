"""Signed tokens never reach a log: an unsubscribe, preferences, forward or confirmation link (and a
tracking link) works for whoever holds it, so access logs print its path with <token> instead.

One logging filter on the loggers every server writes its access log to: werkzeug (`nurture up`),
gunicorn.access and granian.access (`nurture web`), and the app's own error log. It is installed by
create_app, so it holds however the server was started (`gunicorn app.wsgi:app` too)."""
from __future__ import annotations

import logging
import re

# The token is the path segment after these prefixes; what follows (/preferences, .gif) is kept.
TOKEN_IN_PATH = re.compile(r"(/u/|/f/confirm/|/t/[ocq]/)[^/?#.\s\"'<>]+")
PLACEHOLDER = r"\1<token>"
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "granian.access")


def redact(text: str) -> str:
    return TOKEN_IN_PATH.sub(PLACEHOLDER, text)


class HideTokens(logging.Filter):
    """Rewrites the record's message (request line, path, referrer alike) with tokens replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        hidden = redact(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        return True


HIDE_TOKENS = HideTokens()


def hide_tokens(*extra_loggers: logging.Logger) -> None:
    """Install the filter once per logger (create_app runs many times in one test process)."""
    for logger in [logging.getLogger(name) for name in ACCESS_LOGGERS] + list(extra_loggers):
        if HIDE_TOKENS not in logger.filters:
            logger.addFilter(HIDE_TOKENS)
