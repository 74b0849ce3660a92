"""API keys: shown once, stored as a SHA-256 hash, checked on every request."""
from __future__ import annotations

import hmac
from functools import wraps

from flask import request
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


def require_api_key(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return error_response(401, "unauthorized", "send Authorization: Bearer <api key> (create one with `nurture apikey create`)")
        if find_key(db_session(), presented.strip()) is None:
            return error_response(401, "unauthorized", "unknown or revoked API key")
        return view(*args, **kwargs)
    return wrapper
