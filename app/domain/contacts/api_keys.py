"""API keys for the JSON API: shown once, stored only as a SHA-256 hash, each with the scopes it may use.

Scopes: "read" (every GET), "contacts:write" (contacts, events, consent, erasure, bounce reports),
"campaigns:manage" (the agreement and its what-if, QR codes), "sales:act" (answer for a lead on
behalf of a named user) and "admin", which implies all the others and is needed to act for an admin.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.domain.errors import Conflict, Forbidden, NotFound, ValidationError
from app.models import ApiKey, Role, User

SCOPES = ("read", "contacts:write", "campaigns:manage", "sales:act", "admin")
DEFAULT_SCOPES = ("read", "contacts:write")
ADMIN = "admin"
NAME_MAX = 100
PREFIX_LENGTH = 10
USE_RECORDED_EVERY = timedelta(minutes=1)  # last_used_at is to the minute: a busy key writes once a minute


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    """Known scopes only, each once, in the fixed order; at least one."""
    given = [s.strip() for s in scopes]
    unknown = [s for s in given if s not in SCOPES]
    if unknown:
        raise ValidationError("scope", f"unknown scope {unknown[0]!r}; choose from {', '.join(SCOPES)}")
    if not given:
        raise ValidationError("scope", f"give the key at least one scope ({', '.join(SCOPES)})")
    return [s for s in SCOPES if s in given]


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("name", "name the key after what uses it, e.g. crm-sync")
    if len(name) > NAME_MAX or not name.isprintable():
        raise ValidationError("name", f"must be printable text of at most {NAME_MAX} characters")
    return name


def issue_api_key(session: Session, name: str, now: datetime,
                  scopes: Iterable[str] = DEFAULT_SCOPES) -> tuple[ApiKey, str]:
    """The stored key and the key itself: only its hash is kept, so this is the one time it can be shown."""
    name, scopes = _name(name), parse_scopes(scopes)
    key = "nk_" + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=key[:PREFIX_LENGTH], key_hash=hash_api_key(key), scopes=scopes, created_at=now)
    session.add(row)
    session.flush()
    return row, key


def create_api_key(session: Session, name: str, now: datetime, scopes: Iterable[str] = DEFAULT_SCOPES) -> str:
    """The key itself (see issue_api_key)."""
    return issue_api_key(session, name, now, scopes)[1]


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key, revoked ones too (they stay as a record), newest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))


def find_api_key(session: Session, ref: str) -> ApiKey:
    """A key by its id, its prefix (as listed) or the whole key."""
    ref = (ref or "").strip()
    if ref.isdigit() and len(ref) < 19:
        found = session.get(ApiKey, int(ref))
    elif len(ref) > PREFIX_LENGTH:
        found = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(ref)))
    else:
        matches = list(session.scalars(select(ApiKey).where(ApiKey.prefix == ref))) if ref else []
        if len(matches) > 1:
            raise ValidationError("key", f"prefix {ref} names {len(matches)} keys; give the id "
                                         f"({', '.join(str(k.id) for k in matches)})")
        found = matches[0] if matches else None
    if found is None:
        raise NotFound(f"API key {ref!r}")
    return found


def revoke_api_key(session: Session, ref: str, now: datetime) -> ApiKey:
    """Refused from the next request on; the row stays so the audit trail can still name it."""
    key = find_api_key(session, ref)
    if key.revoked_at is not None:
        raise Conflict(f"API key {key.name} ({key.prefix}) was already revoked")
    key.revoked_at = now
    return key


def authenticate(session: Session, presented: str) -> ApiKey | None:
    """The unrevoked key presented, or None."""
    digest = hash_api_key(presented)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)))
    return row if row is not None and hmac.compare_digest(row.key_hash, digest) else None


def has_scope(key: ApiKey, scope: str) -> bool:
    return scope in key.scopes or ADMIN in key.scopes


def check_scope(key: ApiKey, required: Iterable[str]) -> None:
    """Raises Forbidden unless the key holds one of `required` (nothing required: any key will do)."""
    required = tuple(required)
    if required and not any(has_scope(key, scope) for scope in required):
        raise Forbidden(f"this API key lacks the scope this request needs: {' or '.join(required)} "
                        f"(the key has {', '.join(key.scopes) or 'no scope'})")


def record_use(session: Session, key: ApiKey, now: datetime) -> bool:
    """Sets last_used_at when it is a minute old or more; True when it wrote (the caller commits)."""
    if key.last_used_at is not None and now - key.last_used_at < USE_RECORDED_EVERY:
        return False
    stale = or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - USE_RECORDED_EVERY)
    session.execute(update(ApiKey).where(ApiKey.id == key.id, stale).values(last_used_at=now)
                    .execution_options(synchronize_session=False))
    set_committed_value(key, "last_used_at", now)  # written above; not dirty, so no second UPDATE
    return True


def acting_for(key: ApiKey, user: User) -> str:
    """The actor the audit trail records when `key` acts on behalf of `user`; Forbidden if it may not.
    An admin can be acted for only by a key with the admin scope."""
    if not has_scope(key, "sales:act"):
        raise Forbidden("acting on behalf of a user needs an API key with the sales:act scope", "user")
    if user.role == Role.ADMIN and not has_scope(key, ADMIN):
        raise Forbidden(f"{user.email} is an admin: only a key with the admin scope may act for them", "user")
    return f"key {key.name} ({key.prefix}) for user {user.email}"
