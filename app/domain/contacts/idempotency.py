"""Idempotency keys of API POSTs: the first request with a key is done and its answer kept for 24 hours;
a repeat of the same request with the same key (from the same API key) gets that answer back, and the
work is not done again. The same key with a different request is refused."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain.errors import Conflict, ValidationError
from app.models import IdempotencyKey

KEPT_FOR = timedelta(hours=24)
FIELD = "Idempotency-Key"
KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as an HTTP header carries it safely
NOT_KEPT = {409, 429}  # answers about the moment (a conflict, a rate limit): a retry should try again


@dataclass(frozen=True)
class Stored:
    status: int
    body: str
    content_type: str | None


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {path}?".encode() + query + b"\n")
    digest.update(body)
    return digest.hexdigest()


def claim(session: Session, api_key_id: int, key: str, print_: str, *, now: datetime) -> Stored | None:
    """None when this request is the first with `key`: it now holds the key (commit, do the work, then
    `settle`). The stored answer when the same request came before. ValidationError for a malformed key
    or one used for another request; Conflict while the first request is still running."""
    if not KEY_RE.match(key):
        raise ValidationError(FIELD, "must be 1 to 255 visible ASCII characters")
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    row = _find(session, api_key_id, key)
    if row is None:
        session.add(IdempotencyKey(api_key_id=api_key_id, key=key, fingerprint=print_, created_at=now,
                                   expires_at=now + KEPT_FOR))
        try:
            session.flush()
            return None
        except IntegrityError:  # another request took the key between the read and the insert
            session.rollback()
            row = _find(session, api_key_id, key)
            if row is None:
                raise Conflict(f"a request with this {FIELD} is still being processed; retry in a moment") from None
    if row.fingerprint != print_:
        raise ValidationError(FIELD, "was already used for a different request; use a new key for a new request")
    if row.status is None:
        raise Conflict(f"a request with this {FIELD} is still being processed; retry in a moment")
    return Stored(row.status, row.body or "", row.content_type)


def settle(session: Session, api_key_id: int, key: str, *, status: int, body: str, content_type: str | None) -> None:
    """Keep the answer for replays; an answer about the moment (or a failure) frees the key instead."""
    row = _find(session, api_key_id, key)
    if row is None:
        return
    if status >= 500 or status in NOT_KEPT:
        session.delete(row)
    else:
        row.status, row.body, row.content_type = status, body, content_type


def release(session: Session, api_key_id: int, key: str) -> None:
    """The request failed: the key is free for a retry."""
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.api_key_id == api_key_id, IdempotencyKey.key == key))


def _find(session: Session, api_key_id: int, key: str) -> IdempotencyKey | None:
    return session.scalar(select(IdempotencyKey).where(IdempotencyKey.api_key_id == api_key_id,
                                                       IdempotencyKey.key == key))
