"""The monthly lead review: one digest per rep and month, listing each lead and the missing feedback."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.domain.errors import ValidationError
from app.domain.handoff.feedback import respond
from app.domain.handoff.reviews import month_bounds, month_review, owe_reviews, parse_month, previous_month
from app.models import Message
from workers.scheduler import tick

JAN = datetime(2026, 1, 12, 10, 0, tzinfo=timezone.utc)


def test_months_parse_and_bound():
    """YYYY-MM only; December's bounds end on the first of January; the previous month wraps the year."""
    assert parse_month("2026-01").month == 1
    for bad in ("2026-13", "26-01", "January", None):
        with pytest.raises(ValidationError):
            parse_month(bad)
    start, end = month_bounds(parse_month("2025-12"))
    assert (start.isoformat(), end.isoformat()) == ("2025-12-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00")
    assert previous_month(JAN).isoformat() == "2025-12-01"


def test_review_lists_the_months_leads_with_status_and_missing_feedback(rep, lead, synced, clock):
    """Two leads in January: one accepted without outcome, one pending; both flagged for what is missing."""
    alex = rep("alex")
    clock.set(JAN)
    accepted = lead("a@one.example")
    pending = lead("b@two.example")
    respond(synced, accepted, alex, accept=True, rating=4, reasons=[], comment="", now=clock.now())
    synced.commit()
    review = month_review(synced, alex, parse_month("2026-01"), now=clock.now())
    assert [(l["contact"], l["status"], l["missing"]) for l in review["leads"]] == [
        ("Priya Shah", "accepted", ["outcome"]), ("Priya Shah", "pending", ["accept or reject", "rating"])]
    assert review["missing"] == 2 and review["counts"] == {"accepted": 1, "pending": 1}
    assert month_review(synced, alex, parse_month("2026-02"), now=clock.now())["leads"] == []
    assert pending.id != accepted.id


def test_digest_goes_out_once_per_rep_and_month(rep, lead, synced, services, clock, drain, outbox):
    """On February's first tick each rep with January leads gets one digest; never a second one."""
    alex, jordan = rep("alex"), rep("jordan")
    rep("idle", territory={"regions": ["APAC"]})
    clock.set(JAN)
    lead("a@one.example")
    lead("b@two.example")
    tick(services)
    drain()
    assert not [m for m in outbox() if m.subject.startswith("Your leads")]
    clock.set(datetime(2026, 2, 1, 0, 5, tzinfo=timezone.utc))
    assert tick(services)["qualification"]["reviews"] == 2
    for _ in range(3):
        clock.advance(timedelta(days=9))
        tick(services)
    drain()
    digests = [m for m in outbox() if m.subject == "Your leads in January 2026: status and missing feedback"]
    assert sorted(m.to_email for m in digests) == [alex.email, jordan.email]
    body = digests[0].raw
    assert "Priya Shah" in body and "accept or reject" in body and "/reviews/" in body and "/2026-01" in body
    keys = synced.scalars(select(Message.dedupe_key).where(Message.dedupe_key.like("review:%"))).all()
    assert sorted(keys) == [f"review:{alex.id}:2026-01", f"review:{jordan.id}:2026-01"]
    assert owe_reviews(synced, now=clock.now()) == 0
