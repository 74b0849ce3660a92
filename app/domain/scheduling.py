"""Delays and send windows: pure functions of times, with the clock passed in."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ValidationError

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
        if not text or "".join(n + u for n, u in parts).lower() != text.lower():
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
    return {"start": window.get("start", "00:00"), "end": window.get("end", "24:00"), "days": days}


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def next_opening(moment: datetime, window: Mapping[str, Any] | None, tz: ZoneInfo) -> datetime:
    """The earliest time ≥ moment inside the window, read in the contact's time zone."""
    if not window:
        return moment
    start, end = _clock_time(window["start"], "start"), _clock_time(window["end"], "end")
    days = {DAYS.index(d) for d in window["days"]}
    local = moment.astimezone(tz)
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        if day.weekday() not in days:
            continue
        opens = datetime.combine(day, start, tz)
        closes = datetime.combine(day, end, tz)
        if offset == 0 and opens <= local < closes:
            return moment
        if local < opens:
            return opens.astimezone(moment.tzinfo)
    raise AssertionError("a window with at least one day always opens within a week")


def due_at(after: datetime, delay_seconds: int, window: Mapping[str, Any] | None, tz: ZoneInfo) -> datetime:
    return next_opening(after + timedelta(seconds=delay_seconds), window, tz)
