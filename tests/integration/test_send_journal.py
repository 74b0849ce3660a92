"""A lane's journal decides what a killed worker leaves behind: accepted messages are recorded as
sent, the one being handed over is unknown (never resent silently), the rest are owed again. On
PostgreSQL (the lane writes through the driver's own connection) and on SQLite (through Core)."""
from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app import create_app
from app.clock import MovableClock, utcnow
from app.config import load_config
from app.db import upgrade
from app.domain.sending.delivery import claim, new_claim_id
from app.domain.sending.sweeper import sweep
from app.domain.sending.journal import Journal, open_lanes
from app.models import Contact, Event, Message, MessageKind, MessageStatus, SendLane

pytestmark = pytest.mark.integration
LEASE = 60


@pytest.fixture(params=["postgresql", "sqlite"])
def services(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/journal.db"
    config = load_config({"NURTURE_DATABASE_URL": url, "NURTURE_INSTANCE_PATH": str(tmp_path),
                          "NURTURE_SECRET_KEY": "test-0123456789abcdef0123456789abcdef", "NURTURE_BASE_URL": "https://nurture.test",
                          "NURTURE_FROM": "Brightline Motion <hello@brightline.example>",
                          "NURTURE_LEASE_SECONDS": str(LEASE)})
    services = create_app(config.with_overrides(testing=True), clock=MovableClock(utcnow())).extensions["nurture"]
    upgrade(services.engine)
    yield services
    services.engine.dispose()


def owe(services, count: int) -> list[int]:
    now = services.now()
    with services.sessions() as session:
        for i in range(count):
            contact = Contact(email=f"c{i}@example.org", email_domain="example.org", created_at=now, updated_at=now,
                              fields={}, score_reasons=[], fit_reasons={})
            session.add(contact)
            session.flush()
            session.add(Message(public_id=secrets.token_hex(16), kind=MessageKind.NURTURE, to_email=contact.email,
                                contact_id=contact.id, status=MessageStatus.PENDING, created_at=now))
        session.commit()
        return list(session.scalars(select(Message.id).order_by(Message.id)))


def owe_and_open_lane(services, count: int) -> tuple[int, int, list[int]]:
    """(lane id, claim id, claimed message ids), as a send job leaves them before its first message."""
    ids, now, claim_id = owe(services, count), services.now(), new_claim_id()
    with services.sessions() as session:
        claimed = claim(session, ids, now=now, claim_id=claim_id)
        [lane_id] = open_lanes(session, [claimed], claim_id=claim_id, now=now,
                               lease_until=now + timedelta(seconds=LEASE))
        session.commit()
    return lane_id, claim_id, claimed


def hand_over(journal, positions, now) -> set[int]:
    """One round's journal write, as a send job makes it; the lanes found settled by the sweeper."""
    journal.start_hand_over(positions, now)
    return journal.finish_hand_over()


def statuses(services, ids):
    """Each message's status; "held" for a pending message a lane still holds under its claim."""
    with services.sessions() as session:
        by_id = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(ids)))}
        return ["held" if by_id[i].claim is not None else by_id[i].status for i in ids]


def test_a_killed_lane_is_settled_from_its_journal(services):
    lane_id, claim_id, ids = owe_and_open_lane(services, 5)
    journal = Journal(services, claim_id, {lane_id: ids})
    for position in range(3):  # 0 and 1 were accepted; 2 was being handed over when the worker died
        assert hand_over(journal, {lane_id: position}, services.now()) == set()
    journal.close()

    sweep(services, requeue_after=timedelta(minutes=5))
    assert statuses(services, ids) == ["held"] * 5  # the lane's lease has not run out yet

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


def test_one_write_records_every_lane_and_a_finished_lane_keeps_its_last_message_sent(services):
    """A job with two connections: the first has 2 messages, the second 3. Each write records both;
    after the first lane's last answer it stands past its end, so when the worker dies while the
    second lane hands over its third message, only that one is unknown."""
    ids, now, claim_id = owe(services, 5), services.now(), new_claim_id()
    with services.sessions() as session:
        claimed = claim(session, ids, now=now, claim_id=claim_id)
        first, second = open_lanes(session, [claimed[:2], claimed[2:]], claim_id=claim_id, now=now,
                                   lease_until=now + timedelta(seconds=LEASE))
        session.commit()
    journal = Journal(services, claim_id, {first: claimed[:2], second: claimed[2:]})
    assert hand_over(journal, {first: 0, second: 0}, services.now()) == set()
    assert hand_over(journal, {first: 1, second: 1}, services.now()) == set()
    journal.all_handled(first)
    services.clock.advance(timedelta(seconds=LEASE - 5))
    assert hand_over(journal, {second: 2}, services.now()) == set()  # renews both leases
    journal.close()

    services.clock.advance(timedelta(seconds=10))
    assert sweep(services, requeue_after=timedelta(minutes=5))["unknown"] == 0  # both leases were renewed
    assert statuses(services, claimed) == ["held"] * 5

    services.clock.advance(timedelta(seconds=LEASE))
    result = sweep(services, requeue_after=timedelta(minutes=5))
    assert statuses(services, claimed) == ["sent", "sent", "sent", "sent", "unknown"]
    assert result["recovered_sent"] == 4 and result["unknown"] == 1


def test_a_lane_that_makes_progress_keeps_its_messages(services):
    lane_id, claim_id, ids = owe_and_open_lane(services, 3)
    journal = Journal(services, claim_id, {lane_id: ids})
    services.clock.advance(timedelta(seconds=LEASE - 5))
    assert hand_over(journal, {lane_id: 0}, services.now()) == set()  # progress renews the lane's lease
    services.clock.advance(timedelta(seconds=10))  # past the lease it started with, within the renewed one

    sweep(services, requeue_after=timedelta(minutes=5))

    assert statuses(services, ids) == ["held"] * 3
    with services.sessions() as session:  # and no other job can take them
        assert claim(session, ids, now=services.now(), claim_id=new_claim_id()) == []
    journal.close()


def test_a_lane_settled_by_the_sweeper_stops_and_keeps_the_sweepers_record(services):
    lane_id, claim_id, ids = owe_and_open_lane(services, 3)
    journal = Journal(services, claim_id, {lane_id: ids})
    assert hand_over(journal, {lane_id: 0}, services.now()) == set()
    services.clock.advance(timedelta(seconds=LEASE + 1))  # the worker hung past its lease
    sweep(services, requeue_after=timedelta(minutes=5))
    assert statuses(services, ids) == ["unknown", "pending", "pending"]

    # The worker wakes up: it must not hand anything more over.
    assert hand_over(journal, {lane_id: 1}, services.now()) == {lane_id}
    assert journal.settle([], release=[lane_id], not_before=services.now()) == 0
    journal.close()
    assert statuses(services, ids) == ["unknown", "pending", "pending"]


def test_operators_see_each_connection_at_work_and_a_stalled_one(services):
    from app.domain.sending.operations import delivery_status

    lane_id, claim_id, ids = owe_and_open_lane(services, 5)
    journal = Journal(services, claim_id, {lane_id: ids})
    assert hand_over(journal, {lane_id: 0}, services.now()) == set()
    assert hand_over(journal, {lane_id: 1}, services.now()) == set()
    with services.sessions() as session:
        [lane] = delivery_status(session, services, now=services.now())["sending_now"]
    assert (lane["handed_over"], lane["messages"], lane["stalled"]) == (2, 5, False)

    services.clock.advance(timedelta(seconds=LEASE + 1))
    with services.sessions() as session:
        [lane] = delivery_status(session, services, now=services.now())["sending_now"]
    assert lane["stalled"] is True
    journal.close()


@pytest.mark.parametrize("services", ["postgresql"], indirect=True)  # SQLite has one writer at a time: no race
def test_two_jobs_claiming_the_same_messages_at_once_split_them(services):
    """A claim leaves the status pending; what keeps a message in one job is the claim itself. On
    PostgreSQL the second claimer waits for the first one's row locks, then re-checks those rows and
    finds them taken: together the two jobs hold every message exactly once."""
    import threading
    import time

    ids = owe(services, 40)
    first, second, watcher = services.sessions(), services.sessions(), services.sessions()
    second_pid = second.execute(text("SELECT pg_backend_pid()")).scalar()
    taken_first = claim(first, ids[:30], now=services.now(), claim_id=new_claim_id())  # locks 30, uncommitted
    result: dict[str, list[int]] = {}
    racer = threading.Thread(target=lambda: result.update(
        second=claim(second, ids[10:], now=services.now(), claim_id=new_claim_id())))
    racer.start()
    deadline = time.monotonic() + 30
    while watcher.execute(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                          {"pid": second_pid}).scalar() != "Lock":
        assert racer.is_alive() and time.monotonic() < deadline, "the second claim never waited for the first"
        watcher.rollback()
        time.sleep(0.01)
    first.commit()
    racer.join(timeout=30)
    second.commit()
    for session in (first, second, watcher):
        session.close()

    assert taken_first == ids[:30] and result["second"] == ids[30:]
    assert statuses(services, ids) == ["held"] * 40


def test_a_lane_taken_over_cannot_write_an_outcome_over_the_next_job(services):
    """A worker hangs past its lane's lease; the sweeper settles the lane and another job claims the
    messages again. When the hung worker wakes with an outcome (say a 5xx for its message), the
    write finds the message under another claim and changes nothing."""
    from app.domain.sending.delivery import _Job
    from app.domain.sending.outgoing import load_message

    lane_id, claim_id, ids = owe_and_open_lane(services, 2)
    stale = Journal(services, claim_id, {lane_id: ids})
    services.clock.advance(timedelta(seconds=LEASE + 1))
    sweep(services, requeue_after=timedelta(minutes=5))
    with services.sessions() as session:
        assert claim(session, ids, now=services.now(), claim_id=new_claim_id()) == ids
        session.commit()

    with services.sessions() as session:
        job = _Job(services, session, throttle=None, journal=stale)
        job._finish(load_message(session, ids[0]), MessageStatus.FAILED, error="550 5.7.1 refused")
    stale.close()
    assert statuses(services, ids) == ["held", "held"]
