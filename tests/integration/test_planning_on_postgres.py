"""One PostgreSQL scheduler tick plans a mixed batch by the campaign's rules: each contact's own time
zone for the next send window, conditions that skip or branch, contacts who left nurture stopped,
and every due step claimed once even with two schedulers at work."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app import create_app
from app.clock import MovableClock
from app.config import load_config
from app.db import upgrade
from app.domain.campaigns.sync import sync_directory
from app.domain.engagement.arrivals import upsert_contact
from app.domain.campaigns.enrollment import plan_due_messages
from app.domain.contacts.lifecycle import move_stage
from app.domain.campaigns.scheduling import due_at, zone
from app.models import Contact, Enrollment, Message, Stage, Step
from tests.conftest import ROOT
from workers.scheduler import tick

pytestmark = pytest.mark.integration

WINDOW = {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]}
CAMPAIGN = ("name: Sizing\nkind: drip\npersona: everyone\nstatus: active\ntimezone: Europe/Berlin\n"
            'send_window: {start: "09:00", end: "17:00", days: [mon, tue, wed, thu, fri]}\n')


def step(subject: str, delay: str, extra: str = "") -> str:
    return f"---\nsubject: {subject}\ndelay: {delay}\n{extra}---\nHello from Acme.\n"


@pytest.fixture
def prod_clock():
    """Monday noon UTC, so the zones below open their windows at three different times."""
    return MovableClock(datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc))


@pytest.fixture
def services(prod_env, prod_clock, tmp_path):
    services = create_app(load_config(prod_env).with_overrides(testing=True), clock=prod_clock).extensions["nurture"]
    upgrade(services.engine)
    library = tmp_path / "campaigns"
    (library / "personas").mkdir(parents=True)
    (library / "personas" / "everyone.yml").write_text("name: Everyone\nrules: {field: email, op: exists}\n")
    (library / "sizing").mkdir()
    (library / "sizing" / "campaign.yml").write_text(CAMPAIGN)
    (library / "sizing" / "01-intro.md").write_text(step("Intro", "0s"))
    (library / "sizing" / "02-enterprise.md").write_text(
        step("Enterprise", "2d", "condition: {field: company_size, op: gte, value: 1000}\notherwise: 04-small\n"))
    (library / "sizing" / "03-enterprise-2.md").write_text(step("Enterprise 2", "2d"))
    (library / "sizing" / "04-small.md").write_text(step("Small", "2d"))
    with services.sessions() as session:
        sync_directory(session, library, templates_dir=ROOT / "templates", postal_address="1 Main St",
                       now=prod_clock.now())
        session.commit()
    yield services
    services.engine.dispose()


def add_contacts(services, clock, contacts: list[dict]) -> None:
    with services.sessions() as session:
        for fields in contacts:
            upsert_contact(session, fields, now=clock.now())
        session.commit()


def test_a_mixed_tick_follows_each_contacts_zone_conditions_and_stage(services, prod_clock):
    """Next sends follow each contact's zone; a failed condition skips and branches; a handed-off contact is stopped."""
    add_contacts(services, prod_clock, [
        {"email": "big@acme.example", "company_size": 5000, "timezone": "America/New_York"},
        {"email": "small@acme.example", "company_size": 40, "timezone": "Asia/Tokyo"},
        {"email": "tiny@acme.example", "company_size": 5, "timezone": "America/New_York"},  # big's zone, other branch
        {"email": "o'neil+{vip}@acme.example", "company_size": 2000},  # no zone of their own: the campaign's
        {"email": "sold@acme.example", "company_size": 9000, "timezone": "America/New_York"},
    ])
    prod_clock.advance(timedelta(days=7))  # Monday noon again: the intro is due for everyone
    first_tick_at = prod_clock.now()
    with services.sessions() as session:
        assert plan_due_messages(session, now=first_tick_at, limit=100) == 5
        session.commit()
        sent_to = {m.to_email: (m.status, m.error) for m in session.scalars(select(Message))}
        assert sent_to == {email: ("pending", None) for email in (
            "big@acme.example", "small@acme.example", "tiny@acme.example", "o'neil+{vip}@acme.example",
            "sold@acme.example")}
        for enrollment in session.scalars(select(Enrollment)):
            contact = session.get(Contact, enrollment.contact_id)
            assert enrollment.status == "active" and enrollment.next_position == 1
            assert enrollment.next_due_at == due_at(first_tick_at, 2 * 86400, WINDOW,
                                                    zone(contact.timezone, "Europe/Berlin")), contact.email
        # Wednesday noon UTC is inside Berlin's window, before New York's and after Tokyo's.
        assert len({e.next_due_at for e in session.scalars(select(Enrollment))}) == 3, "three zones, three openings"
        sold = session.scalar(select(Contact).where(Contact.email == "sold@acme.example"))
        move_stage(session, sold, Stage.HANDED_OFF, cause="sales accepted", actor="rep", now=first_tick_at)
        session.commit()

    prod_clock.advance(timedelta(days=7))
    with services.sessions() as session:
        assert plan_due_messages(session, now=prod_clock.now(), limit=100) == 4
        session.commit()
        second = {m.to_email: (m.status, (m.error or "").split(":")[0]) for m in session.scalars(
            select(Message).join(Step, Step.id == Message.step_id).where(Step.key == "02-enterprise"))}
        assert second == {
            "big@acme.example": ("pending", ""),
            "o'neil+{vip}@acme.example": ("pending", ""),
            "small@acme.example": ("skipped", "condition not met"),
            "tiny@acme.example": ("skipped", "condition not met"),
        }
        by_email = {session.get(Contact, e.contact_id).email: e for e in session.scalars(select(Enrollment))}
        assert by_email["small@acme.example"].next_position == by_email["tiny@acme.example"].next_position == 3, \
            "branched to 04-small"
        assert by_email["big@acme.example"].next_position == 2
        stopped = by_email["sold@acme.example"]
        assert (stopped.status, stopped.exit_reason, stopped.next_due_at) == (
            "stopped", "contact can no longer receive this campaign", None)
        queued = session.scalars(select(Message.queued_at).where(Message.status == "pending")).all()
        assert queued and all(q is not None for q in queued)
        skipped = session.scalars(select(Message.queued_at).where(Message.status == "skipped")).all()
        assert skipped == [None, None]

    prod_clock.advance(timedelta(days=7))
    tick(services)  # 04-small completes the small contacts' enrollments
    with services.sessions() as session:
        for email in ("small@acme.example", "tiny@acme.example"):
            small = session.scalar(select(Enrollment).join(Contact).where(Contact.email == email))
            assert (small.status, small.next_due_at, small.ended_at) == ("completed", None, prod_clock.now())


def test_two_schedulers_never_plan_the_same_step(services, prod_clock):
    """A second scheduler skips the due steps the first holds and plans only the rest; none twice."""
    add_contacts(services, prod_clock, [{"email": f"c{i}@acme.example", "company_size": 10} for i in range(12)])
    prod_clock.advance(timedelta(days=7))
    with services.sessions() as first, services.sessions() as second:
        planned_first = plan_due_messages(first, now=prod_clock.now(), limit=5)  # holds its 5 until commit
        planned_second = plan_due_messages(second, now=prod_clock.now(), limit=100)
        second.commit()
        first.commit()
    assert (planned_first, planned_second) == (5, 7)
    with services.sessions() as session:
        assert plan_due_messages(session, now=prod_clock.now(), limit=100) == 0
        per_contact = session.scalars(select(Message.contact_id)).all()
        assert len(per_contact) == len(set(per_contact)) == 12
