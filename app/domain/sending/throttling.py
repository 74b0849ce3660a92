"""Sending limits: paused destination domains, per-domain and per-campaign rates, domain warm-up.

Rates are counted in Redis per minute (warm-up per day), so every worker on every machine shares
them. A message over a limit is not sent now: it goes back to pending with the time it may go.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.infra import counters
from app.models import Alert, DomainThrottle

from app.domain.errors import ValidationError
from app.domain.settings import get_setting, put_setting

DEFAULT_WARMUP = [50, 100, 200, 400, 800, 1500, 3000, 5000, 8000, 12000, 20000, 35000, 50000]
THROTTLE_PAUSE = timedelta(minutes=5)
BLOCK_PAUSE = timedelta(hours=1)


def warmup_cap(start: date, today: date, schedule: list[int]) -> int | None:
    """The day's cap for a new sending domain, or None once the schedule is over."""
    day = (today - start).days
    if day < 0:
        return 0
    return schedule[day] if day < len(schedule) else None


def next_minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)


def next_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


@dataclass
class Limits:
    per_domain: Mapping[str, int] = field(default_factory=dict)  # domain → per minute; "*" for any
    warmup_start: date | None = None
    warmup_schedule: list[int] = field(default_factory=lambda: list(DEFAULT_WARMUP))

    @classmethod
    def load(cls, session: Session) -> "Limits":
        raw: dict[str, Any] = get_setting(session, "delivery")
        warmup = raw.get("warmup") or {}
        start = warmup.get("start")
        return cls(per_domain=raw.get("per_domain_per_minute") or {},
                   warmup_start=date.fromisoformat(start) if start else None,
                   warmup_schedule=warmup.get("daily") or list(DEFAULT_WARMUP))

    @property
    def any(self) -> bool:
        return bool(self.per_domain) or self.warmup_start is not None


@dataclass(frozen=True)
class LimitsChange:
    """A change to the "delivery" setting that Limits.load reads."""
    rates: dict[str, int] = field(default_factory=dict)
    warmup: dict[str, Any] | None = None
    clear: bool = False

    @classmethod
    def parse(cls, per_domain: Iterable[str] = (), warmup_start: str | None = None,
              warmup_daily: str | None = None, *, clear: bool = False) -> "LimitsChange":
        """From text: DOMAIN=N items, a YYYY-MM-DD start, daily caps as "N,N,…" (read only with a start)."""
        rates = {}
        for item in per_domain:
            domain, _, number = item.partition("=")
            if not domain or not number.isdigit() or int(number) < 1:
                raise ValidationError("per_domain", f"{item!r}: use DOMAIN=N with N ≥ 1, e.g. gmail.com=600")
            rates[domain.strip().lower()] = int(number)
        warmup = None
        if warmup_start:
            try:
                date.fromisoformat(warmup_start)
            except ValueError:
                raise ValidationError("warmup_start", f"{warmup_start!r} is not a date like 2026-11-01") from None
            warmup = {"start": warmup_start}
            if warmup_daily:
                parts = [p.strip() for p in warmup_daily.split(",")]
                if not all(p.isdigit() for p in parts):
                    raise ValidationError("warmup_daily", "use whole numbers separated by commas")
                warmup["daily"] = [int(p) for p in parts]
        return cls(rates=rates, warmup=warmup, clear=clear)

    def applied_to(self, current: dict[str, Any]) -> dict[str, Any]:
        """Rates are merged into those set before; a warm-up replaces the one before."""
        changed = {} if self.clear else dict(current)
        if self.rates:
            changed["per_domain_per_minute"] = {**(changed.get("per_domain_per_minute") or {}), **self.rates}
        if self.warmup:
            changed["warmup"] = self.warmup
        return changed


def set_limits(session: Session, change: LimitsChange, *, now: datetime) -> dict[str, Any]:
    """Store the changed limits; returns the setting now in force."""
    limits = change.applied_to(get_setting(session, "delivery"))
    put_setting(session, "delivery", limits, now)
    return limits


class Throttle:
    """Decides, per message, whether it may go now; counts what goes."""

    def __init__(self, session: Session, redis, now: datetime):
        self.redis = redis
        self.limits = Limits.load(session)
        self.paused = {d: until for d, until in session.execute(
            select(DomainThrottle.domain, DomainThrottle.paused_until).where(DomainThrottle.paused_until > now))}

    def hold_until(self, domain: str, campaign_id: int | None, campaign_rate: int | None, now: datetime) -> datetime | None:
        if domain in self.paused and self.paused[domain] > now:
            return self.paused[domain]
        checks: list[tuple[str, int, datetime]] = []
        domain_rate = self.limits.per_domain.get(domain, self.limits.per_domain.get("*"))
        minute = now.strftime("%Y%m%d%H%M") if domain_rate or campaign_rate else ""
        if domain_rate:
            checks.append((counters.rate_counter("domain", domain, minute), int(domain_rate), next_minute(now)))
        if campaign_rate and campaign_id is not None:
            checks.append((counters.rate_counter("campaign", str(campaign_id), minute), int(campaign_rate),
                           next_minute(now)))
        if self.limits.warmup_start is not None:
            cap = warmup_cap(self.limits.warmup_start, now.date(), self.limits.warmup_schedule)
            if cap is not None:
                checks.append((counters.warmup_counter(now.date().isoformat()), cap, next_day(now)))
        if not checks:
            return None
        over = counters.take_all_or_none(self.redis, [(key, limit) for key, limit, _ in checks])
        waits = [until for (_, _, until), went_over in zip(checks, over) if went_over]
        return max(waits) if waits else None

    def pause(self, session: Session, domain: str, until: datetime, reason: str, now: datetime) -> None:
        self.paused[domain] = until
        row = session.get(DomainThrottle, domain)
        if row is None:
            session.add(DomainThrottle(domain=domain, paused_until=until, reason=reason, updated_at=now))
        else:
            row.paused_until, row.reason, row.updated_at = max(row.paused_until, until), reason, now


def raise_alert(session: Session, kind: str, subject: str, detail: str, now: datetime) -> None:
    """One open alert per subject: repeated refusals do not flood the admin."""
    exists = session.scalar(select(Alert.id).where(Alert.subject == subject, Alert.resolved_at.is_(None)))
    if exists is None:
        session.add(Alert(kind=kind, subject=subject, detail=detail[:4000], created_at=now))
