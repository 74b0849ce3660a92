"""Assignment under concurrency on PostgreSQL: round-robin stays fair and weekly caps hold when many
handoffs happen at once in separate transactions."""
from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import select

from app.domain.campaigns.sync import sync_directory
from app.domain.handoff.hand_off import hand_off
from app.domain.contacts.users import create_user
from app.models import Contact, Handoff
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def setup(prod_app, prod_clock):
    services = prod_app.extensions["nurture"]
    with services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=prod_clock.now())
        session.commit()

    def reps(n, cap=None):
        with services.sessions() as session:
            made = []
            for i in range(n):
                user, _ = create_user(session, f"rep{i}@nurture.test", "sales", now=prod_clock.now(), password="x" * 10)
                user.weekly_cap = cap
                made.append(user.id)
            session.commit()
            return made

    def contacts(n):
        with services.sessions() as session:
            rows = [Contact(email=f"lead{i}@company{i}.example", email_domain=f"company{i}.example", fields={},
                            score=150, grade="A", score_reasons=[], fit_reasons={}, stage="nurturing",
                            created_at=prod_clock.now(), updated_at=prod_clock.now()) for i in range(n)]
            session.add_all(rows)
            session.commit()
            return [c.id for c in rows]
    return services, reps, contacts


def hand_off_concurrently(services, now, contact_ids, threads=10):
    """Each lead handed off in its own transaction, `threads` at a time, all started together."""
    errors, barrier = [], threading.Barrier(threads)
    chunks = [contact_ids[i::threads] for i in range(threads)]

    def work(ids):
        barrier.wait()
        for contact_id in ids:
            try:
                with services.sessions() as session:
                    hand_off(session, session.get(Contact, contact_id), reason="score 150 ≥ 100 and grade A", now=now)
                    session.commit()
            except Exception as exc:  # noqa: BLE001 (collected and asserted below)
                errors.append(exc)
    workers = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors


def test_round_robin_stays_fair_under_concurrent_handoffs(setup, prod_clock):
    """60 leads handed off by 10 concurrent transactions at the same instant: 20 each for 3 reps."""
    services, reps, contacts = setup
    rep_ids = reps(3)
    hand_off_concurrently(services, prod_clock.now(), contacts(60))
    with services.sessions() as session:
        counts = Counter(session.scalars(select(Handoff.rep_id)).all())
    assert counts == {rep_id: 20 for rep_id in rep_ids}


def test_weekly_caps_hold_under_concurrent_handoffs(setup, prod_clock):
    """Three reps capped at 4: of 20 concurrent handoffs exactly 12 are assigned, the rest queued."""
    services, reps, contacts = setup
    rep_ids = reps(3, cap=4)
    hand_off_concurrently(services, prod_clock.now(), contacts(20))
    with services.sessions() as session:
        statuses = Counter(session.scalars(select(Handoff.status)).all())
        counts = Counter(session.scalars(select(Handoff.rep_id).where(Handoff.rep_id.is_not(None))).all())
    assert statuses == {"pending": 12, "queued": 8}
    assert counts == {rep_id: 4 for rep_id in rep_ids}
