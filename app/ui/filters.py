"""Template filters the pages share: times in UTC, relative times, and names people read."""
from __future__ import annotations

from datetime import datetime

from app.extensions import services


def _parse(value):
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


def format_time(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times are stored in UTC and shown in UTC, labelled so nobody guesses."""
    moment = _parse(value)
    if moment is None:
        return value if isinstance(value, str) and value else "—"
    return moment.strftime(fmt) + (" UTC" if moment.tzinfo else "")


def relative_time(value) -> str:
    """'in 2 days', '3 hours ago', against the app's clock."""
    moment = _parse(value)
    if moment is None or moment.tzinfo is None:
        return ""
    seconds = (moment - services().now()).total_seconds()
    span = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if span >= size:
            n = int(span // size)
            text = f"{n} {unit}{'' if n == 1 else 's'}"
            break
    else:
        return "just now"
    return f"in {text}" if seconds > 0 else f"{text} ago"


ACRONYMS = {"mql": "MQL", "sal": "SAL"}


def humanize(value) -> str:
    """`handed_off` → 'handed off', for stage, status and event names; MQL and SAL stay upper case."""
    return " ".join(ACRONYMS.get(word, word) for word in str(value or "").replace("_", " ").split(" "))


def label(value) -> str:
    """Like humanize, with a capital first letter: 'Handed off', 'MQL'."""
    text = humanize(value)
    return text[:1].upper() + text[1:]
