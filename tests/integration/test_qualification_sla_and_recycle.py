"""Handoff, SLA expiry and recycling on PostgreSQL, Redis, a real worker process and SMTP: no nurture
email after the handoff, the manager is emailed when the rep lets the SLA pass, and a rejected lead
only ever receives the recycle campaign."""
from __future__ import annotations

import email
from datetime import timedelta
from email import policy

import pytest
from sqlalchemy import func, select

from app.domain.contacts.api_keys import create_api_key
from app.domain.campaigns.sync import sync_directory
from app.domain.contacts.users import create_user
from app.models import Enrollment, EnrollmentStatus, Handoff, Message, MessageKind, StageTransition
from tests.conftest import ROOT
from tests.loop_steps import PRIYA
from workers.scheduler import tick

from .conftest import wait_for

pytestmark = pytest.mark.integration


def test_sla_escalation_then_recycling_sends_only_what_it_should(prod_app, prod_clock, smtp_sink, worker_processes):
    """Drip email, handoff (drip stops), SLA escalation to the manager, rejection for bad timing,
    recycling: weeks later only recycle-campaign emails have gone out after the handoff."""
    services = prod_app.extensions["nurture"]
    [worker] = worker_processes(1)
    client = prod_app.test_client()
    with services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=prod_clock.now())
        boss, _ = create_user(session, "boss@nurture.test", "sales_manager", now=prod_clock.now(), password="x" * 10)
        alex, _ = create_user(session, "alex@nurture.test", "sales", now=prod_clock.now(), password="x" * 10)
        alex.manager_id = boss.id
        headers = {"Authorization": f"Bearer {create_api_key(session, 'it', prod_clock.now(), scopes=['admin'])}"}
        session.commit()

    def settle():
        def done():
            with services.sessions() as s:
                return s.scalar(select(func.count()).select_from(Message).where(
                    Message.status.in_(["pending", "sending"]))) == 0
        wait_for(done, what="the worker to send every owed message")
        assert worker.poll() is None, worker.stderr.read().decode()

    def to(address):
        return [m for m in map(lambda raw: email.message_from_bytes(raw, policy=policy.default), smtp_sink.received())
                if m["To"] == address]

    contact_id = client.post("/api/v1/contacts", json=PRIYA, headers=headers).get_json()["id"]
    with services.sessions() as session:
        prod_clock.set(session.scalar(select(Enrollment.next_due_at)))
    tick(services)
    settle()
    assert len(to(PRIYA["email"])) == 1  # the first drip email

    assert client.post("/api/v1/events", json={"email": PRIYA["email"], "type": "demo_request"},
                       headers=headers).status_code == 202
    handed_at = prod_clock.now()
    tick(services)
    settle()
    assert [m["Subject"] for m in to(alex.email)] == ["New lead: Priya Shah at Acme Automation"]

    prod_clock.advance(timedelta(hours=49))
    assert tick(services)["qualification"]["sla"] == {"reassigned": 0, "escalated": 1}
    settle()
    assert [m["Subject"] for m in to(boss.email)] == ["Lead not answered in time: Priya Shah at Acme Automation"]

    with services.sessions() as session:
        handoff_id = session.scalar(select(Handoff.id))
    rejected = client.post(f"/api/v1/handoffs/{handoff_id}/decision", headers=headers,
                           json={"user": boss.email, "decision": "reject", "rating": 3, "reasons": ["bad timing"]})
    assert rejected.status_code == 200 and rejected.get_json()["recycled_at"]

    for _ in range(10):  # ten weeks: the recycle campaign's three emails fall due, in their send window
        prod_clock.advance(timedelta(days=7))
        tick(services)
        settle()
    with services.sessions() as session:
        after = session.scalars(select(Message).where(Message.contact_id == contact_id, Message.status == "sent",
                                                      Message.kind == MessageKind.NURTURE,
                                                      Message.created_at > handed_at)).all()
        assert after and {m.campaign.slug for m in after} == {"recycle"}
        active = session.scalars(select(Enrollment).where(Enrollment.contact_id == contact_id,
                                                          Enrollment.status == EnrollmentStatus.ACTIVE)).all()
        assert [e.campaign.slug for e in active] in ([], ["recycle"])
        stages = session.scalars(select(StageTransition.to_value).where(
            StageTransition.contact_id == contact_id, StageTransition.attribute == "stage")
            .order_by(StageTransition.id)).all()
    assert stages == ["nurturing", "mql", "handed_off", "rejected", "nurturing"]
    assert len(to(PRIYA["email"])) == 1 + len(after)
