"""Fixtures for tracking tests: Priya's first nurture email, delivered to the outbox, and its links."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.models import Enrollment, Event
from tests.loop_steps import PRIYA, parse
from workers.scheduler import tick


@pytest.fixture
def sent(synced, services, session, clock, api, drain, outbox):
    """Priya's first nurture email, delivered to the outbox; returns (parsed message, contact id)."""
    contact = api.post("/api/v1/contacts", json=PRIYA).get_json()
    clock.set(session.scalar(select(Enrollment.next_due_at)))
    tick(services)
    drain()
    clock.advance(timedelta(hours=1))
    return parse(outbox()[-1].raw), contact["id"]


@pytest.fixture
def events(session):
    """Events of a type (or all), read fresh from the database."""
    def read(kind=None):
        session.expire_all()
        query = select(Event).order_by(Event.id)
        return session.scalars(query.where(Event.type == kind) if kind else query).all()
    return read


def unsubscribe_path(message) -> str:
    return message["List-Unsubscribe"].split(",")[0].strip("<> ").removeprefix("https://nurture.test")
