"""People who log in (marketers, sales reps, managers, admins) and API keys."""
from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug import security

from .base import Base, StrEnum


@functools.cache
def _dummy_hash() -> str:
    """A hash of the same algorithm and cost as a real one, to check against when there is no user."""
    return security.generate_password_hash("no user has this password")


def check_without_user(password: str) -> bool:
    """Spend the time a real check takes; always False."""
    security.check_password_hash(_dummy_hash(), password)
    return False


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    SALES = "sales"
    SALES_MANAGER = "sales_manager"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[Role] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Kept in every signed-in session; raising it ends them all (sign-out, deactivation, new password).
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Sales reps: where they take leads from, how many a week early in a programme, who escalates.
    territory: Mapped[dict] = mapped_column(default=dict)
    weekly_cap: Mapped[int | None] = mapped_column(Integer)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    def set_password(self, password: str) -> None:
        self.password_hash = security.generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """Always one hash check, even without a password set, so the time taken tells nothing."""
        return security.check_password_hash(self.password_hash or _dummy_hash(), password) and bool(self.password_hash)

    @property
    def is_sales(self) -> bool:
        return self.role in (Role.SALES, Role.SALES_MANAGER)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # What the key may do: names from app.domain.contacts.api_keys.SCOPES ("admin" implies them all).
    scopes: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]  # to the minute: a busy key does not write on every request
    revoked_at: Mapped[datetime | None]
