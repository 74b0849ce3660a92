"""Users and roles; signing in, with failures throttled per account and per address; passwords;
ending a user's sessions (each carries the user's session version; raising it ends them all)."""
from __future__ import annotations

import hashlib
import logging
import math
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.infra import counters
from app.models import Role, User
from app.models.user import check_without_user

from app.domain.contacts.records import normalise_email
from app.domain.errors import Conflict, NotFound, Throttled, ValidationError

log = logging.getLogger(__name__)

MIN_PASSWORD, MAX_PASSWORD = 8, 1000
# Failed sign-ins counted over a sliding window; past a limit, attempts wait until the oldest
# failure leaves the window, so a block always ends on its own and nobody is locked out for good.
FAILURE_WINDOW = 15 * 60
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
WRONG_CREDENTIALS = "Wrong email or password."


def create_user(session: Session, email: str, role: str, *, now: datetime, name: str = "",
                password: str | None = None, territory: dict | None = None) -> tuple[User, str]:
    """Returns the user and its password (generated when none is given)."""
    email = normalise_email(email)
    if role not in {r.value for r in Role}:
        raise ValidationError("role", f"must be one of {', '.join(r.value for r in Role)}")
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"a user with email {email} already exists")
    password = password or secrets.token_urlsafe(12)
    _check_new_password("password", password)
    user = User(email=email, role=role, name=name or email.split("@")[0], created_at=now, territory=territory or {})
    user.set_password(password)
    session.add(user)
    session.flush()
    return user, password


def _check_new_password(field: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(field, f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValidationError(field, f"must be at most {MAX_PASSWORD} characters")


def session_is_current(user: User | None, version: object) -> bool:
    """A signed-in session still counts only for an active user whose sessions have not been ended since."""
    return bool(user and user.active and version == user.session_version)


def end_sessions(user: User) -> None:
    """Every session the user has signed in with stops working at its next request."""
    user.session_version = (user.session_version or 1) + 1


def sign_in(session: Session, redis, email: str, password: str, *, address: str | None, now: datetime) -> User:
    """The active user with this email and password. Raises Throttled while the account or the address
    has too many recent failures, else ValidationError with one message whatever was wrong. Every
    answer past the throttle costs one password-hash check, so its time does not tell whether the email
    belongs to anybody."""
    email = (email or "").strip().lower()[:320]
    account, origin = _account_subject(email), f"signin-address:{address or 'unknown'}"
    _refuse_when_over(redis, now, (account, ACCOUNT_FAILURES, "this account"), (origin, ADDRESS_FAILURES, "your network"))
    user = session.scalar(select(User).where(User.email == email)) if email else None
    right = user.check_password(password) if user else check_without_user(password)
    if right and user.active:
        _quietly(counters.forget_attempts, redis, account)
        return user
    for subject, limit in ((account, ACCOUNT_FAILURES), (origin, ADDRESS_FAILURES)):
        _quietly(counters.log_attempt, redis, subject, now=now.timestamp(), window=FAILURE_WINDOW, keep=limit)
    raise ValidationError("password", WRONG_CREDENTIALS)


def change_password(session: Session, redis, user: User, current: str, new: str, repeat: str, *,
                    now: datetime) -> User:
    """The signed-in user's own change: the current password (a wrong one counts as a failed sign-in),
    the new one twice. Ends the user's sessions; the caller keeps its own by taking the new version."""
    account = _account_subject(user.email)
    _refuse_when_over(redis, now, (account, ACCOUNT_FAILURES, "this account"))
    if not user.check_password(current or ""):
        _quietly(counters.log_attempt, redis, account, now=now.timestamp(), window=FAILURE_WINDOW, keep=ACCOUNT_FAILURES)
        raise ValidationError("current_password", "is wrong")
    _check_new_password("new_password", new or "")
    if new != repeat:
        raise ValidationError("new_password_again", "does not match")
    user.set_password(new)
    end_sessions(user)
    session.flush()
    return user


def sign_out(session: Session, user_id: int) -> None:
    """Signing out ends every session of the user, so a copy of the cookie taken earlier is worthless."""
    user = session.get(User, user_id)
    if user is not None:
        end_sessions(user)
        session.flush()


def set_active(session: Session, email: str, active: bool) -> User:
    """Deactivating ends the user's sessions at once; reactivating does not bring them back."""
    user = _by_email(session, email)
    if user.active and not active:
        end_sessions(user)
    user.active = active
    session.flush()
    return user


def reset_password(session: Session, email: str, password: str | None = None) -> tuple[User, str]:
    """An admin sets a user's password (generated when none is given); the user's sessions end."""
    user = _by_email(session, email)
    password = password or secrets.token_urlsafe(12)
    _check_new_password("password", password)
    user.set_password(password)
    end_sessions(user)
    session.flush()
    return user, password


def _by_email(session: Session, email: str) -> User:
    email = normalise_email(email)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        raise NotFound(f"user {email}")
    return user


def _account_subject(email: str) -> str:
    # Hashed: the key stays short whatever was typed, and Redis holds no list of addresses.
    return "signin-account:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def _refuse_when_over(redis, now: datetime, *checks: tuple[str, int, str]) -> None:
    """Throttled while a subject has `limit` failures in the window; the wait ends when the oldest leaves it."""
    moment = now.timestamp()
    for subject, limit, what in checks:
        times = _quietly(counters.recent_attempts, redis, subject, now=moment, window=FAILURE_WINDOW) or []
        if len(times) >= limit:
            wait = times[-limit] + FAILURE_WINDOW - moment
            minutes = max(1, math.ceil(wait / 60))
            raise Throttled(f"Too many failed sign-ins for {what}. Please try again in "
                            f"{minutes} minute{'s' if minutes > 1 else ''}.", retry_after=math.ceil(wait))


def _quietly(step, *args, **kwargs):
    """Sign-in keeps working while Redis is away, unthrottled, rather than lock everybody out."""
    try:
        return step(*args, **kwargs)
    except Exception:  # noqa: BLE001 - any Redis trouble
        log.warning("sign-in throttle unavailable (Redis)", exc_info=True)
        return None
