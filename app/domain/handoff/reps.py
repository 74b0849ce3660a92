"""Sales reps as the handoff sees them: territory, weekly cap, manager, and whether they take leads."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Role, User

from app.domain.handoff.assignment import territory_problems
from app.domain.errors import NotFound, ValidationError

UNSET: Any = object()


def find_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        raise NotFound(f"user {email}")
    return user


def parse_territory(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError("territory", f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
    return value


def parse_cap(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "no")):
        return None
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise ValidationError("weekly_cap", f"must be a whole number from 1 to 10000, or none; got {value!r}")
    return int(text)


def update_rep(session: Session, rep: User, *, territory: Any = UNSET, weekly_cap: Any = UNSET,
               manager: User | None = UNSET, active: bool | None = None) -> User:
    if rep.role not in (Role.SALES, Role.SALES_MANAGER):
        raise ValidationError("user", f"{rep.email} is a {rep.role}, not a sales rep or manager")
    if territory is not UNSET:
        problems = territory_problems(territory)
        if problems:
            field, _, message = problems[0].partition(": ")
            raise ValidationError(field, message)
        rep.territory = {k: ([v.upper() for v in vals] if k == "regions" else vals) for k, vals in territory.items()}
    if weekly_cap is not UNSET:
        rep.weekly_cap = parse_cap(weekly_cap)
    if manager is not UNSET:
        if manager is not None and manager.role not in (Role.SALES_MANAGER, Role.ADMIN):
            raise ValidationError("manager", f"{manager.email} is not a sales manager")
        if manager is not None and manager.id == rep.id:
            raise ValidationError("manager", "a rep cannot be their own manager")
        rep.manager_id = manager.id if manager else None
    if active is not None:
        rep.active = active
    return rep


def rep_summary(rep: User) -> dict:
    return {"email": rep.email, "role": str(rep.role), "active": rep.active, "territory": rep.territory or {},
            "weekly_cap": rep.weekly_cap, "manager_id": rep.manager_id}
