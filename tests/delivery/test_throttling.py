"""Sending limits: per destination domain, per campaign, and a warm-up schedule for a new domain."""
from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.domain.sending.delivery import send_batch
from app.domain.settings import put_setting
from app.domain.sending.throttling import DEFAULT_WARMUP, warmup_cap

from .test_smtp_outcomes import owe, services, statuses, _plain_notice  # noqa: F401  (shared fixtures)


def limit(services, clock, value):
    with services.sessions() as session:
        put_setting(session, "delivery", value, clock.now())
        session.commit()


def test_a_domain_rate_spreads_a_burst_over_minutes(services, owe, clock, scripted_smtp):
    """With 2 a minute to one provider, a burst of 5 goes 2 now and the rest wait for the next minute."""
    limit(services, clock, {"per_domain_per_minute": {"gmail.test": 2}})
    ids = owe(*[f"p{i}@gmail.test" for i in range(5)], "other@fast.test")
    counts = send_batch(services, ids)
    assert counts["sent"] == 3 and counts["deferred"] == 3  # two to gmail.test, one elsewhere
    waiting = [m for m in statuses(services, ids) if m.status == "pending"]
    assert {m.next_attempt_at for m in waiting} == {clock.now().replace(second=0, microsecond=0) + timedelta(minutes=1)}
    clock.advance(timedelta(minutes=1))
    assert send_batch(services, [m.id for m in waiting])["sent"] == 2


def test_warm_up_caps_the_first_days_of_a_new_sending_domain(services, owe, clock):
    """On day one of the warm-up only the day's allowance goes; the rest waits for tomorrow."""
    limit(services, clock, {"warmup": {"start": clock.now().date().isoformat(), "daily": [3, 10]}})
    ids = owe(*[f"w{i}@example.org" for i in range(5)])
    counts = send_batch(services, ids)
    assert counts["sent"] == 3 and counts["deferred"] == 2
    held = [m for m in statuses(services, ids) if m.status == "pending"]
    assert all(m.next_attempt_at.date() == clock.now().date() + timedelta(days=1) for m in held)


@given(start=st.dates(), offset=st.integers(-5, 60))
def test_warm_up_allowance_grows_then_ends(start, offset):
    """Before the start nothing goes; each day follows the schedule; after it there is no cap."""
    cap = warmup_cap(start, start + timedelta(days=offset), DEFAULT_WARMUP)
    if offset < 0:
        assert cap == 0
    elif offset < len(DEFAULT_WARMUP):
        assert cap == DEFAULT_WARMUP[offset]
    else:
        assert cap is None


def test_the_default_schedule_only_grows():
    """A warm-up never sends less tomorrow than today."""
    assert DEFAULT_WARMUP == sorted(DEFAULT_WARMUP) and warmup_cap(date(2026, 1, 1), date(2026, 1, 1), [5]) == 5
