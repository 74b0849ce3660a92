"""Planning on PostgreSQL writes the owed messages in bulk, marked queued; if Redis turns the jobs
away, the mark is taken back so the very next tick queues them, and nothing is planned twice."""
from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import func, select

from app import create_app
from app.config import load_config
from app.db import upgrade
from app.domain.campaigns.sync import sync_directory
from app.domain.engagement.arrivals import upsert_contact
from app.models import Enrollment, Message
from tests.conftest import ROOT
from workers.scheduler import tick

from .conftest import free_port

pytestmark = pytest.mark.integration


def _services(env, clock):
    services = create_app(load_config(env).with_overrides(testing=True), clock=clock).extensions["nurture"]
    upgrade(services.engine)
    return services


def test_owed_messages_survive_a_refused_enqueue_and_are_queued_on_the_next_tick(prod_env, prod_clock, redis_url):
    away = _services({**prod_env, "NURTURE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, prod_clock)
    with away.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=away.config.postal_address, now=prod_clock.now())
        for i in range(30):
            upsert_contact(session, {"email": f"engineer{i}@acme-robotics.example", "first_name": "Ana",
                                     "title": "Senior Controls Engineer", "industry": "manufacturing",
                                     "company_size": 400, "country": "US", "timezone": "UTC"},
                           now=prod_clock.now())
        session.commit()
    prod_clock.advance(timedelta(days=3))  # every drip's first step is due, whatever its send window

    planned = tick(away)["planned"]
    with away.sessions() as session:
        owed = session.scalars(select(Message).where(Message.status == "pending")).all()
        positions = {e.id: e.next_position for e in session.scalars(select(Enrollment))}
    assert planned >= 30 and len(owed) == planned
    assert all(m.queued_at is None for m in owed), "Redis refused them: they must not look queued"

    back = _services(prod_env, prod_clock)
    second = tick(back)
    queue_depth = Redis.from_url(redis_url).llen("rq:queue:default")
    with back.sessions() as session:
        total = session.scalar(select(func.count()).select_from(Message))
        still_unqueued = session.scalar(select(func.count()).select_from(Message).where(
            Message.status == "pending", Message.queued_at.is_(None)))
        after = {e.id: e.next_position for e in session.scalars(select(Enrollment))}
    assert second["planned"] == 0 and total == planned, "the enrollments had already advanced: nothing is planned twice"
    assert after == positions
    assert second["requeued"] == planned and still_unqueued == 0
    assert queue_depth >= 1
    away.engine.dispose()
    back.engine.dispose()
