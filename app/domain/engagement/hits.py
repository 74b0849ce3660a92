"""What a tracking hit is: an open, click, QR scan or page view, accepted by the tracking front and
carried through the buffer as a small JSON list with its own random id (so the same hit written
twice is one row)."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

# Hit kinds
OPEN, CLICK, QR_SCAN, PAGE_VIEW = "o", "c", "q", "v"


def new_hit_id() -> str:
    """96 random bits: unique per hit, so the same hit written twice is one row."""
    return secrets.token_hex(12)


def encode(kind: str, public_id: str, *, at: float, link: int | None = None, method: str = "GET",
           ip: str | None = None, user_agent: str | None = None, extra: dict | None = None,
           hit_id: str | None = None) -> str:
    agent = (user_agent or "").replace("\x00", "")[:1000]  # PostgreSQL refuses a NUL in text
    return json.dumps([hit_id or new_hit_id(), kind, public_id, link, method, at, ip, agent, extra],
                      separators=(",", ":"))


@dataclass
class Hit:
    id: str
    kind: str
    public_id: str
    link: int | None
    method: str
    at: datetime
    ip: str | None
    user_agent: str | None
    extra: dict = field(default_factory=dict)
    raw: str = ""

    @property
    def dedupe_key(self) -> str:
        return f"hit:{self.id}"


def decode(raw: str | bytes) -> Hit:
    """A hit from its JSON; ValueError for anything malformed."""
    try:
        hit_id, kind, public_id, link, method, at, ip, ua, extra = json.loads(raw)
        moment = datetime.fromtimestamp(float(at), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"malformed hit: {exc}") from None
    if not (isinstance(hit_id, str) and 8 <= len(hit_id) <= 100 and kind in (OPEN, CLICK, QR_SCAN, PAGE_VIEW)
            and isinstance(public_id, str) and len(public_id) == 32):
        raise ValueError("malformed hit: bad id, kind or public id")
    return Hit(hit_id, kind, public_id, link if isinstance(link, int) else None, str(method or "GET"), moment,
               ip or None, ua or None, extra if isinstance(extra, dict) else {},
               raw if isinstance(raw, str) else raw.decode())
