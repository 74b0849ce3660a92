"""What every web request passes through: JSON read within limits, no NUL character in any text a
view could hand to the database, tokens kept out of the logs, and the security headers."""
from __future__ import annotations

from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider

from app.access_log import hide_tokens
from app.domain.contacts.inputs import read_json
from app.security_headers import add_security_headers

NUL = "\x00"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")  # other bodies are left unread here


class StrictJSON(DefaultJSONProvider):
    """request.get_json everywhere reads through inputs.read_json: too deep, huge numbers, NUL or lone
    surrogates are a ValueError (a 400, or None when silent), never a RecursionError."""

    def loads(self, s, **kwargs):
        return read_json(s)


def _has_nul(values) -> bool:
    return any(NUL in key or NUL in value for key, value in values)


def refuse_nul() -> None:
    """PostgreSQL refuses NUL in text; a NUL in the address, query, form or a header is refused here,
    on every page, before any query could carry it."""
    if (_has_nul(request.args.items(multi=True)) or _has_nul(request.headers.items())
            or any(isinstance(v, str) and NUL in v for v in (request.view_args or {}).values())
            or NUL in request.path or request.mimetype in FORMS and _has_nul(request.form.items(multi=True))):
        abort(400, description="The request holds a NUL character, which is not text.")


def install(app: Flask) -> None:
    app.json = StrictJSON(app)
    app.before_request(refuse_nul)
    hide_tokens(app.logger)
    app.after_request(add_security_headers)
