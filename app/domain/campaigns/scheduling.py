"""Delays and send windows: pure functions of times, with the clock passed in."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.errors import ValidationError

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DELAY_PART = re.compile(r"(\d+)\s*([smhdw])", re.I)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DELAY = 366 * 86400


def parse_delay(value: Any) -> int:
    """Seconds from '45s', '10m', '2h', '3d', '1w', '1d12h', or a number of seconds."""
    if isinstance(value, bool):
        raise ValidationError("delay", f"must be a duration like 45s, 3d or 1w, got {value!r}")
    if isinstance(value, int):
        seconds = value
    else:
        text = str(value).strip().replace(" ", "")
        parts = DELAY_PART.findall(text)
        if not text or len(text) > 64 or "".join(n + u for n, u in parts).lower() != text.lower():
            raise ValidationError("delay", f"must be a duration like 45s, 10m, 2h, 3d or 1w, got {value!r}")
        seconds = sum(int(n) * UNIT_SECONDS[u.lower()] for n, u in parts)
    if not 0 <= seconds <= MAX_DELAY:
        raise ValidationError("delay", f"must be between 0 and 366 days, got {value!r}")
    return seconds


def format_delay(seconds: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % UNIT_SECONDS[unit] == 0:
            return f"{seconds // UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def _clock_time(text: str, where: str) -> time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(text))
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59 or (int(m.group(1)) == 24 and int(m.group(2))):
        raise ValidationError(where, f"must be a time like 09:00, got {text!r}")
    hour, minute = int(m.group(1)), int(m.group(2))
    return time.max if hour == 24 else time(hour, minute)


def validate_window(window: Mapping[str, Any] | None) -> dict[str, Any]:
    """A send window {start, end, days} normalised; empty means any time."""
    if not window:
        return {}
    start = _clock_time(window.get("start", "00:00"), "send_window.start")
    end = _clock_time(window.get("end", "24:00"), "send_window.end")
    if start >= end:
        raise ValidationError("send_window", "start must be before end")
    days = [str(d).lower()[:3] for d in window.get("days", DAYS)]
    if not days or any(d not in DAYS for d in days):
        raise ValidationError("send_window.days", f"must list days from {', '.join(DAYS)}")
    holidays = window.get("holidays") or []
    if not isinstance(holidays, list):
        raise ValidationError("send_window.holidays", "must be a list of dates like 2026-12-25")
    try:
        parsed = sorted({date.fromisoformat(str(h)) for h in holidays})
    except ValueError:
        raise ValidationError("send_window.holidays", f"must be dates like 2026-12-25, got {holidays!r}") from None
    normalised = {"start": window.get("start", "00:00"), "end": window.get("end", "24:00"), "days": days}
    if parsed:
        normalised["holidays"] = [d.isoformat() for d in parsed]
    return normalised


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a tzdata folder such as 'America'
                continue
    return ZoneInfo("UTC")


def _inside(instant: datetime, start: time, end: time, days: set[int], tz: ZoneInfo,
            holidays: frozenset[date] = frozenset()) -> bool:
    local = instant.astimezone(tz)
    return local.weekday() in days and start <= local.time() < end and local.date() not in holidays


def _offset_changes(begin: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """The instants in (begin, end] where the zone's UTC offset changes (daylight saving), to the second."""
    def offset(ts: int) -> timedelta | None:
        return datetime.fromtimestamp(ts, tz).utcoffset()

    changes, lo, stop = [], int(begin.timestamp()), int(end.timestamp())
    while lo < stop:
        hi = min(lo + 6 * 3600, stop)  # no zone changes its offset twice within six hours
        if offset(lo) != offset(hi):
            a, b = lo, hi
            while b - a > 1:
                mid = (a + b) // 2
                a, b = (mid, b) if offset(mid) == offset(lo) else (a, mid)
            changes.append(datetime.fromtimestamp(b, timezone.utc))
        lo = hi
    return changes


def next_opening(moment: datetime, window: Mapping[str, Any] | None, tz: ZoneInfo) -> datetime:
    """The earliest time ≥ moment inside the window, read in the contact's time zone.

    The window opens when the local clock reaches `start` on a listed day, or when daylight saving
    moves the clock into the window, so both are candidates; the earliest one inside wins.
    """
    if not window:
        return moment
    start, end = _clock_time(window["start"], "start"), _clock_time(window["end"], "end")
    days = {DAYS.index(d) for d in window["days"]}
    holidays = frozenset(date.fromisoformat(h) for h in window.get("holidays", ()))
    if _inside(moment, start, end, days, tz, holidays):
        return moment
    first_day = moment.astimezone(tz).date()
    horizon = 8 + len(holidays)  # every holiday can push the opening back by a day
    candidates = [datetime.combine(first_day + timedelta(days=n), start, tz).replace(fold=fold)
                  for n in range(horizon) for fold in (0, 1)]
    candidates += _offset_changes(moment, moment + timedelta(days=horizon + 1), tz)
    since = moment.astimezone(timezone.utc)
    openings = [c.astimezone(timezone.utc) for c in candidates]
    opening = min((c for c in openings if c >= since and _inside(c, start, end, days, tz, holidays)), default=None)
    if opening is None:
        raise AssertionError("a window with at least one day always opens within a week plus its holidays")
    return opening.astimezone(moment.tzinfo)


def due_at(after: datetime, delay_seconds: int, window: Mapping[str, Any] | None, tz: ZoneInfo) -> datetime:
    return next_opening(after + timedelta(seconds=delay_seconds), window, tz)
