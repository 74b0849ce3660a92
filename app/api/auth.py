"""API keys: shown once, stored as a SHA-256 hash, checked on every request."""
from __future__ import annotations

import hmac
from functools import wraps

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.contacts.api_keys import create_api_key  # noqa: F401  (still imported from here)
from app.domain.contacts.api_keys import hash_api_key as _hash
from app.extensions import db_session
from app.models import ApiKey

from .errors import error_response


def find_key(session: Session, presented: str) -> ApiKey | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(presented), ApiKey.revoked_at.is_(None)))
    return row if row is not None and hmac.compare_digest(row.key_hash, _hash(presented)) else None


def require_api_key(*scopes: str):
    """`@require_api_key("read")`: a valid, unrevoked key that holds one of `scopes` (bare
    `@require_api_key`: any valid key). The key is kept in flask.g.api_key for the view."""
    if len(scopes) == 1 and callable(scopes[0]):
        return require_api_key()(scopes[0])

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, presented = header.partition(" ")
            if scheme.lower() != "bearer" or not presented.strip():
                return error_response(401, "unauthorized", "send Authorization: Bearer <api key> (create one with `nurture apikey create`)")
            key = find_key(db_session(), presented.strip())
            if key is None:
                return error_response(401, "unauthorized", "unknown or revoked API key")
            g.api_key = key
            return view(*args, **kwargs)
        wrapper.required_scopes = scopes
        return wrapper
    return decorate
