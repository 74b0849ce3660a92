"""A lane's journal decides what a killed worker leaves behind: accepted messages are recorded as
sent, the one being handed over is unknown (never resent silently), the rest are owed again. On
PostgreSQL (the lane writes through the driver's own connection) and on SQLite (through Core)."""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import create_app
from app.clock import MovableClock, utcnow
from app.config import load_config
from app.db import upgrade
from app.domain.delivery import claim, sweep
from app.domain.send_journal import Journal, LaneTakenOver, open_lanes
from app.models import Contact, Event, Message, MessageKind, MessageStatus, SendLane

pytestmark = pytest.mark.integration
LEASE = 60


@pytest.fixture(params=["postgresql", "sqlite"])
def services(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/journal.db"
    config = load_config({"NURTURE_DATABASE_URL": url, "NURTURE_INSTANCE_PATH": str(tmp_path),
                          "NURTURE_SECRET_KEY": "test", "NURTURE_BASE_URL": "https://nurture.test",
                          "NURTURE_FROM": "Brightline Motion <hello@brightline.example>",
                          "NURTURE_LEASE_SECONDS": str(LEASE)})
    services = create_app(config.with_overrides(testing=True), clock=MovableClock(utcnow())).extensions["nurture"]
    upgrade(services.engine)
    yield services
    services.engine.dispose()


def owe_and_open_lane(services, count: int) -> tuple[int, list[int]]:
    now = services.now()
    with services.sessions() as session:
        for i in range(count):
            contact = Contact(email=f"c{i}@example.org", email_domain="example.org", created_at=now, updated_at=now,
                              fields={}, score_reasons=[], fit_reasons={})
            session.add(contact)
            session.flush()
            session.add(Message(public_id=secrets.token_hex(16), kind=MessageKind.NURTURE, to_email=contact.email,
                                contact_id=contact.id, status=MessageStatus.PENDING, created_at=now))
        session.flush()
        ids = list(session.scalars(select(Message.id).order_by(Message.id)))
        claimed = claim(session, ids, now=now, lease_seconds=LEASE)
        [lane_id] = open_lanes(session, [claimed], now=now, lease_until=now + timedelta(seconds=LEASE))
        session.commit()
    return lane_id, claimed


def statuses(services, ids):
    with services.sessions() as session:
        by_id = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(ids)))}
        return [by_id[i].status for i in ids]


def test_a_killed_lane_is_settled_from_its_journal(services):
    lane_id, ids = owe_and_open_lane(services, 5)
    journal = Journal(services, lane_id, ids)
    for position in range(3):  # 0 and 1 were accepted; 2 was being handed over when the worker died
        journal.hand_over(position, services.now())
    journal.close()

    sweep(services, requeue_after=timedelta(minutes=5))
    assert statuses(services, ids) == ["claimed"] * 5  # the lane's lease has not run out yet

    services.clock.advance(timedelta(seconds=LEASE + 1))
    result = sweep(services, requeue_after=timedelta(minutes=5))

    assert statuses(services, ids) == ["sent", "sent", "unknown", "pending", "pending"]
    assert result["recovered_sent"] == 2 and result["unknown"] == 1 and result["released"] == 2
    with services.sessions() as session:
        sent_events = session.scalars(select(Event.message_id).where(Event.type == "email_sent")).all()
        assert sorted(sent_events) == ids[:2]
        assert session.scalar(select(Message.message_id_header).where(Message.id == ids[0])).endswith(
            "@brightline.example>")
        assert session.scalars(select(SendLane)).all() == []


def test_a_live_lane_keeps_its_messages_after_their_claim_lease(services):
    lane_id, ids = owe_and_open_lane(services, 3)
    journal = Journal(services, lane_id, ids)
    services.clock.advance(timedelta(seconds=LEASE - 5))
    journal.hand_over(0, services.now())  # progress renews the lane's lease
    services.clock.advance(timedelta(seconds=10))  # past the claim's lease, within the lane's

    sweep(services, requeue_after=timedelta(minutes=5))

    assert statuses(services, ids) == ["claimed"] * 3
    journal.close()


def test_a_lane_settled_by_the_sweeper_stops_and_keeps_the_sweepers_record(services):
    lane_id, ids = owe_and_open_lane(services, 3)
    journal = Journal(services, lane_id, ids)
    journal.hand_over(0, services.now())
    services.clock.advance(timedelta(seconds=LEASE + 1))  # the worker hung past its lease
    sweep(services, requeue_after=timedelta(minutes=5))
    assert statuses(services, ids) == ["unknown", "pending", "pending"]

    with pytest.raises(LaneTakenOver):  # the worker wakes up: it must not hand anything more over
        journal.hand_over(1, services.now())
    assert journal.settle([], release_rest=True, not_before=services.now()) is None
    journal.close()
    assert statuses(services, ids) == ["unknown", "pending", "pending"]


def test_operators_see_each_connection_at_work_and_a_stalled_one(services):
    from app.domain.operations import delivery_status

    lane_id, ids = owe_and_open_lane(services, 5)
    journal = Journal(services, lane_id, ids)
    journal.hand_over(0, services.now())
    journal.hand_over(1, services.now())
    with services.sessions() as session:
        [lane] = delivery_status(session, services, now=services.now())["sending_now"]
    assert (lane["handed_over"], lane["messages"], lane["stalled"]) == (2, 5, False)

    services.clock.advance(timedelta(seconds=LEASE + 1))
    with services.sessions() as session:
        [lane] = delivery_status(session, services, now=services.now())["sending_now"]
    assert lane["stalled"] is True
    journal.close()
