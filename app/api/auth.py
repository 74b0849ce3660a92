"""API keys: shown once, stored as a SHA-256 hash, checked on every request with the scope the endpoint needs."""
from __future__ import annotations

from functools import wraps

from flask import g, request

from app.domain.contacts.api_keys import authenticate, check_scope, record_use
from app.domain.errors import Forbidden
from app.extensions import db_session, services

from .errors import error_response


_UNSEEN = object()


def presented_key():
    """The unrevoked key the request's Authorization header presents, or None. Looked up once per
    request: the rate limiter (whose budget) and require_api_key (may it) both ask."""
    found = g.get("presented_key", _UNSEEN)
    if found is _UNSEEN:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        found = authenticate(db_session(), presented.strip()) if scheme.lower() == "bearer" and presented.strip() else None
        g.presented_key = found
    return found


def require_api_key(*scopes: str):
    """`@require_api_key("read")`: a valid, unrevoked key that holds one of `scopes` ("admin" holds
    them all), else 401 (no such key) or 403 naming the scope. The key is kept in flask.g.api_key for
    the view. Bare `@require_api_key` accepts any valid key; every endpoint of the API declares one."""
    if len(scopes) == 1 and callable(scopes[0]):
        return require_api_key()(scopes[0])

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, presented = header.partition(" ")
            if scheme.lower() != "bearer" or not presented.strip():
                return error_response(401, "unauthorized", "send Authorization: Bearer <api key> (create one with `nurture apikey create`)")
            session = db_session()
            key = presented_key()
            if key is None:
                return error_response(401, "unauthorized", "unknown or revoked API key")
            try:
                check_scope(key, scopes)
            except Forbidden as exc:
                return error_response(403, "insufficient_scope", exc.message)
            if record_use(session, key, services().now()):
                session.commit()
            g.api_key = key
            return view(*args, **kwargs)
        wrapper.required_scopes = scopes
        return wrapper
    return decorate
