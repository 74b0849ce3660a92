"""The CRM webhook on the production parts: the scheduler queues it in Redis, a real `nurture worker`
process signs and posts it to a server on loopback, and a refusal is retried with backoff."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.domain.campaigns.sync import sync_directory
from app.domain.engagement.arrivals import upsert_contact
from app.domain.engagement.events import record_event
from app.domain.contacts.users import create_user
from app.domain.contacts.webhook_endpoints import create_endpoint
from app.domain.contacts.webhooks import SIGNATURE_HEADER, verify
from app.models import WebhookDelivery
from tests.conftest import ROOT
from tests.qualification.conftest import ENGINEER
from tests.qualification.webhook_server import Receiver
from workers.scheduler import tick

from .conftest import wait_for

pytestmark = pytest.mark.integration
SECRET = "whsec_integration_0123456789"


def test_handoff_webhook_is_signed_retried_and_delivered(prod_app, prod_clock, worker_processes):
    """First answer 500: recorded, retried 30 s later (time moved), then delivered and verifiable."""
    services = prod_app.extensions["nurture"]
    [worker] = worker_processes(1)
    with Receiver([500]) as crm, services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=prod_clock.now())
        create_user(session, "alex@nurture.test", "sales", now=prod_clock.now(), password="x" * 10)
        create_endpoint(session, {"name": "crm", "url": crm.url, "events": ["handoff.assigned"], "secret": SECRET,
                                  "allow_private": True}, actor="test", now=prod_clock.now())  # loopback: allowed
        contact, _ = upsert_contact(session, {**ENGINEER, "email": "priya@acme.example"}, now=prod_clock.now())
        record_event(session, contact, "demo_request", now=prod_clock.now())
        session.commit()

        def delivery():
            with services.sessions() as s:
                return s.scalar(select(WebhookDelivery))

        assert tick(services)["qualification"]["webhooks"] == 1
        first = wait_for(lambda: (d := delivery()) and d.attempts == 1 and d.status == "pending" and d,
                         what="the first attempt to be refused and recorded")
        assert first.history[0]["code"] == 500
        refused_at = datetime.fromisoformat(first.history[0]["at"])
        assert first.next_attempt_at == refused_at + timedelta(seconds=30)
        with services.engine.begin() as conn:  # 30 seconds pass
            conn.execute(update(WebhookDelivery).values(next_attempt_at=first.next_attempt_at - timedelta(seconds=31)))
        prod_clock.advance(timedelta(seconds=31))
        assert tick(services)["qualification"]["webhooks"] == 1
        done = wait_for(lambda: (d := delivery()) and d.status == "delivered" and d, what="the retry to succeed")
        assert worker.poll() is None
        assert [h["code"] for h in done.history] == [500, 200]
        requests = crm.received()
    assert len(requests) == 2
    headers, body = requests[-1]
    assert verify(SECRET, headers[SIGNATURE_HEADER.lower()], body, now=datetime.now().timestamp())
    assert json.loads(body)["handoff"]["rep"]["email"] == "alex@nurture.test"
    assert requests[0][0]["x-nurture-delivery"] == requests[1][0]["x-nurture-delivery"]  # same delivery, retried
