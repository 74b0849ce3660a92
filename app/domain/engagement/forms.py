"""Forms on the marketer's site: a new contact is created and its event recorded (autoresponders
follow); a form about a contact Nurture already knows is held until the contact confirms it
(engagement.confirmations), because an anonymous form never rewrites a known contact on its own say-so.

Spam protection: a hidden honeypot field (`website`) that people never fill (a filled one is
answered as a success and recorded nowhere), and a per-address rate limit kept in Redis.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session

from app.infra import counters
from app.models import Contact, Event, FormConfirmation

from app.domain.contacts.records import find_contact
from app.domain.engagement.confirmations import hold
from app.domain.engagement.form_entries import HONEYPOT_FIELD, apply_entry, check_slug, parse_entry

__all__ = ["HONEYPOT_FIELD", "RATE_PER_MINUTE", "Submission", "allowed", "check_slug", "submit"]
RATE_PER_MINUTE = 10


@dataclass
class Submission:
    spam: bool = False
    contact: Contact | None = None
    event: Event | None = None
    created: bool = False
    held: FormConfirmation | None = None  # waiting for the contact's confirmation


def allowed(redis, ip: str | None, *, per_minute: int = RATE_PER_MINUTE, clock=time.time) -> bool:
    """At most `per_minute` submissions from one address in any 60 seconds; if Redis is away, let it through.

    A sliding log (one sorted set per address) rather than per-clock-minute counters: those let a visitor
    send twice the limit across a minute's boundary. Refused attempts count too, so a flood stays refused,
    and the log is trimmed to the newest `per_minute + 1` entries so a flood cannot grow it."""
    try:
        count = counters.log_attempt(redis, f"form:{ip or 'unknown'}", now=clock(), window=60, keep=per_minute + 1)
    except Exception:
        return True
    return count <= per_minute


def submit(session: Session, slug: str, data: Mapping[str, Any], *, now: datetime, page: str | None = None,
           trusted: bool = False, ip: str | None = None) -> Submission:
    """Validate and record one submission; raises ValidationError naming the field.

    `trusted`: sent by the marketer's server with an API key, which vouches for it, so it updates a
    known contact at once. Anonymous (the default): a known contact's submission is held for its
    confirmation, and a new contact's typed-in text is kept out of subject lines until confirmed."""
    entry = parse_entry(slug, data, page)
    if entry is None:
        return Submission(spam=True)
    known = find_contact(session, entry.email)
    if known is not None and not trusted:
        return Submission(held=hold(session, known, entry, now=now, ip=ip))
    contact, event, created = apply_entry(session, entry, now=now, confirmed=trusted,
                                          source=None if known is not None else f"form:{slug}")
    return Submission(contact=contact, event=event, created=created)
