"""Which rep gets a lead: the existing owner, the account owner, a territory, or round-robin,
under an optional weekly cap per rep.

Fairness: within the chosen pool the rep whose turn came longest ago gets the lead (turns are
ordered by the id of their assignment entry, so leads assigned in the same instant still rotate). On PostgreSQL the
pool's rows are locked (in id order, so never a deadlock) before counting and choosing, so
concurrent handoffs are served one after the other and never both pick the same "next" rep or
overshoot a cap.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Contact, Handoff, HandoffEvent, HandoffStatus, Role, User

from app.domain.contacts.profile import REGION_NAMES, region_of
from app.domain.settings import get_setting

FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "hotmail.co.uk", "outlook.com",
    "live.com", "msn.com", "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.de", "gmx.net",
    "web.de", "mail.com", "yandex.ru", "qq.com", "163.com",
})
TERRITORY_KEYS = ("countries", "regions", "industries", "company_size", "segments")
ASSIGNING = ("assigned", "released", "reassigned")


def is_free_mail(domain: str | None) -> bool:
    return (domain or "").lower() in FREE_MAIL


@dataclass
class Assignment:
    rep: User | None
    strategy: str  # owner | account owner | territory | round robin | unassigned
    queued: bool = False  # everyone in the pool is at their weekly cap


def week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of the week `now` falls in: weekly caps count from here."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=midnight.weekday())


# --- territories -------------------------------------------------------------------------------------

def territory_problems(territory: Any) -> list[str]:
    """What is wrong with a rep's territory, e.g. {"regions": ["EMEA"], "company_size": [200, 5000]}."""
    if not isinstance(territory, Mapping):
        return ["territory: must be an object with " + ", ".join(TERRITORY_KEYS)]
    problems = [f"territory.{k}: unknown key (use {', '.join(TERRITORY_KEYS)})" for k in territory
                if k not in TERRITORY_KEYS]
    for key in ("countries", "regions", "industries", "segments"):
        values = territory.get(key)
        if values is not None and not (isinstance(values, list) and values and all(isinstance(v, str) for v in values)):
            problems.append(f"territory.{key}: must be a non-empty list of text")
    for region in territory.get("regions") or []:
        if isinstance(region, str) and region.upper() not in REGION_NAMES:
            problems.append(f"territory.regions: {region!r} is not one of {', '.join(REGION_NAMES)}")
    size = territory.get("company_size")
    if size is not None and not (isinstance(size, list) and len(size) == 2
                                 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in size)
                                 and size[0] <= size[1]):
        problems.append("territory.company_size: must be [low, high] employees with low ≤ high")
    return problems


def in_territory(territory: Mapping[str, Any], contact: Contact) -> bool:
    """Every key the territory sets must match; a contact missing that field does not match."""
    def has(values: Iterable[str], value: str | None) -> bool:
        return value is not None and value.casefold() in {v.casefold() for v in values}

    checks = {
        "countries": lambda v: has(v, contact.country),
        "regions": lambda v: has(v, region_of(contact.country)),
        "industries": lambda v: has(v, contact.industry),
        "segments": lambda v: has(v, contact.segment),
        "company_size": lambda v: contact.company_size is not None and v[0] <= contact.company_size <= v[1],
    }
    used = [(key, value) for key, value in (territory or {}).items() if key in checks and value]
    return bool(used) and all(checks[key](value) for key, value in used)


# --- choosing ----------------------------------------------------------------------------------------

def active_reps(session: Session, *, lock: bool = False) -> list[User]:
    query = select(User).where(User.role == Role.SALES, User.active.is_(True)).order_by(User.id)
    if lock:
        query = query.with_for_update()  # nothing on SQLite, where writers are serialised anyway
    return list(session.scalars(query))


def _account_owner(session: Session, contact: Contact, reps: dict[int, User]) -> User | None:
    if not contact.email_domain or is_free_mail(contact.email_domain):
        return None
    owners = session.scalars(select(Contact.owner_id).where(
        Contact.email_domain == contact.email_domain, Contact.owner_id.in_(list(reps)), Contact.id != contact.id)
        .order_by(Contact.updated_at.desc(), Contact.id.desc()).limit(1)).all()
    return reps[owners[0]] if owners else None


def pool_for(session: Session, contact: Contact, reps: list[User]) -> tuple[list[User], str]:
    """The reps this lead may go to, and by which strategy."""
    by_id = {r.id: r for r in reps}
    if contact.owner_id in by_id:
        return [by_id[contact.owner_id]], "owner"
    owner = _account_owner(session, contact, by_id)
    if owner is not None:
        return [owner], "account owner"
    territorial = [r for r in reps if r.territory and in_territory(r.territory, contact)]
    if territorial:
        return territorial, "territory"
    generalists = [r for r in reps if not r.territory]
    return generalists or reps, "round robin"


def assigned_this_week(session: Session, rep_ids: list[int], now: datetime) -> dict[int, int]:
    rows = session.execute(select(Handoff.rep_id, func.count()).where(
        Handoff.rep_id.in_(rep_ids), Handoff.assigned_at >= week_start(now),
        Handoff.status != HandoffStatus.QUEUED).group_by(Handoff.rep_id)).all()
    return {rep_id: n for rep_id, n in rows}


def cap_of(rep: User, default_cap: int | None) -> int | None:
    return rep.weekly_cap if rep.weekly_cap is not None else default_cap


def choose_rep(session: Session, contact: Contact, *, now: datetime, exclude: Iterable[int] = ()) -> Assignment:
    """Owner, then account owner (same company domain), then territory, then round-robin; within the
    pool, the least recently assigned rep with room under the weekly cap. A full pool queues the lead."""
    excluded = set(exclude)
    reps = [r for r in active_reps(session, lock=True) if r.id not in excluded]
    if not reps:
        return Assignment(None, "unassigned", queued=True)
    pool, strategy = pool_for(session, contact, reps)
    default_cap = get_setting(session, "handoff").get("weekly_cap")
    counts = assigned_this_week(session, [r.id for r in pool], now)
    room = [r for r in pool if cap_of(r, default_cap) is None or counts.get(r.id, 0) < cap_of(r, default_cap)]
    if not room:
        return Assignment(None, strategy, queued=True)
    turns = last_turns(session, [r.id for r in room])
    chosen = min(room, key=lambda r: (turns.get(r.id, 0), r.id))
    return Assignment(chosen, strategy)


def last_turns(session: Session, rep_ids: list[int]) -> dict[int, int]:
    """The id of each rep's latest assignment entry: ids only grow, so the smallest is the one whose
    turn it is, even when many leads are assigned in the same instant."""
    return dict(session.execute(select(HandoffEvent.to_rep_id, func.max(HandoffEvent.id)).where(
        HandoffEvent.to_rep_id.in_(rep_ids), HandoffEvent.kind.in_(ASSIGNING)).group_by(HandoffEvent.to_rep_id)).all())
