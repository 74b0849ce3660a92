"""Users and roles."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Role, User

from app.domain.contacts.records import normalise_email
from app.domain.errors import Conflict, ValidationError


def create_user(session: Session, email: str, role: str, *, now: datetime, name: str = "",
                password: str | None = None, territory: dict | None = None) -> tuple[User, str]:
    """Returns the user and its password (generated when none is given)."""
    email = normalise_email(email)
    if role not in {r.value for r in Role}:
        raise ValidationError("role", f"must be one of {', '.join(r.value for r in Role)}")
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"a user with email {email} already exists")
    password = password or secrets.token_urlsafe(12)
    if len(password) < 8:
        raise ValidationError("password", "must be at least 8 characters")
    user = User(email=email, role=role, name=name or email.split("@")[0], created_at=now, territory=territory or {})
    user.set_password(password)
    session.add(user)
    session.flush()
    return user, password
