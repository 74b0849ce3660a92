"""API keys for the JSON API: shown once, stored only as a SHA-256 hash."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from app.models import ApiKey


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, name: str, now: datetime) -> str:
    """Returns the key; only its hash is kept, so this is the one time it can be shown."""
    key = "nk_" + secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, prefix=key[:10], key_hash=hash_api_key(key), created_at=now))
    return key
