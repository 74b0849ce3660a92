"""Webhooks: HMAC-SHA256 signed POSTs to a real server on loopback, retried with backoff, logged.

Loopback is a private address, so every endpoint here is created with allow_private, as an admin would.
"""
from __future__ import annotations

import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.domain.contacts.webhook_endpoints import configure_crm, create_endpoint
from app.domain.contacts.webhooks import (MAX_ATTEMPTS, SIGNATURE_HEADER, WebhookError, backoff, deliver,
                                          due_deliveries, sign, verify)
from app.domain.errors import ValidationError
from app.domain.handoff.feedback import respond
from app.models import WebhookDelivery
from workers.scheduler import tick

from .webhook_server import Receiver

SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture
def endpoint(synced, clock):
    """endpoint(url, events=[...]): an active endpoint that may reach loopback, signing with SECRET."""
    def make(url, events=("handoff.assigned",), name="crm-test"):
        found, _ = create_endpoint(synced, {"name": name, "url": url, "events": list(events), "allow_private": True,
                                            "secret": SECRET}, actor="test", now=clock.now())
        synced.commit()
        return found
    return make


def test_signature_is_hmac_sha256_over_timestamp_and_body():
    """t=<unix>,v1=<hex>; verifying needs the same secret, the same bytes and a fresh timestamp."""
    header = sign(SECRET, 1767600000, b'{"a":1}')
    assert header == "t=1767600000,v1=" + hmac.new(SECRET.encode(), b'1767600000.{"a":1}', "sha256").hexdigest()
    assert verify(SECRET, header, b'{"a":1}', now=1767600100)
    assert not verify(SECRET, header, b'{"a":2}', now=1767600100)
    assert not verify("another-secret-xxxxxxxx", header, b'{"a":1}', now=1767600100)
    assert not verify(SECRET, header, b'{"a":1}', now=1767600000 + 301)
    assert not verify(SECRET, "garbage", b"", now=0)


def test_backoff_doubles_and_is_capped():
    """30 s, 1 min, 2 min … never more than two hours."""
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(20) == timedelta(hours=2)


def test_the_crm_endpoint_checks_the_url_and_makes_a_secret(synced, clock):
    """`nurture webhook set`: only http(s) URLs; a secret is generated when none is given."""
    with pytest.raises(ValidationError) as refused:
        configure_crm(synced, "ftp://crm.example/x", now=clock.now())
    assert refused.value.field == "url"
    assert configure_crm(synced, "https://crm.example/hook", now=clock.now()).startswith("whsec_")


def test_a_handoff_is_posted_signed_to_the_crm(people, lead, synced, services, clock, drain):
    """The CRM endpoint hears handoff.created then handoff.assigned, each with a valid signature."""
    with Receiver() as crm:
        configure_crm(synced, crm.url, now=clock.now(), secret=SECRET, allow_private=True)
        synced.commit()
        handoff = lead("priya@acme.example")
        assert tick(services)["qualification"]["webhooks"] == 2
        drain()
        requests = crm.received()
    assert [h["x-nurture-event"] for h, _ in requests] == ["handoff.created", "handoff.assigned"]
    headers, body = requests[1]
    assert headers["content-type"] == "application/json"
    assert verify(SECRET, headers[SIGNATURE_HEADER.lower()], body, now=clock.now().timestamp())
    payload = json.loads(body)
    assert payload["event"] == "handoff.assigned" and payload["id"] == headers["x-nurture-delivery"]
    assert payload["handoff"]["id"] == handoff.id and payload["handoff"]["rep"]["email"] == people["rep"].email
    assert payload["handoff"]["report_url"] == f"https://nurture.test/handoffs/{handoff.id}"
    assert payload["handoff"]["report"]["fit"]["grade"] == "A"
    synced.expire_all()
    delivered = synced.scalars(select(WebhookDelivery)).all()
    assert [(d.status, d.attempts, d.response_code) for d in delivered] == [("delivered", 1, 200)] * 2
    assert delivered[0].history[0]["code"] == 200


def test_a_receiver_that_fails_three_times_gets_the_event_on_the_fourth_try(people, lead, synced, services, clock,
                                                                              endpoint):
    """500, 503, 500, then 200: four attempts, 30 s, 1 min and 2 min apart, each kept in the history."""
    with Receiver([500, 503, 500]) as crm:
        endpoint(crm.url)
        lead("priya@acme.example")
        [delivery_id] = due_deliveries(synced, now=clock.now())
        synced.commit()
        with pytest.raises(WebhookError, match="HTTP 500"):
            deliver(services, delivery_id)
        assert deliver(services, delivery_id) == "skipped"  # not due yet
        clock.advance(timedelta(seconds=30))
        with pytest.raises(WebhookError, match="HTTP 503"):
            deliver(services, delivery_id)
        clock.advance(timedelta(seconds=59))
        assert due_deliveries(synced, now=clock.now()) == []
        clock.advance(timedelta(seconds=1))
        assert due_deliveries(synced, now=clock.now()) == [delivery_id]
        synced.commit()
        with pytest.raises(WebhookError, match="HTTP 500"):
            deliver(services, delivery_id)
        clock.advance(timedelta(minutes=2))
        assert deliver(services, delivery_id) == "delivered"
        requests = crm.received()
    assert len(requests) == 4 and len({h["x-nurture-delivery"] for h, _ in requests}) == 1
    headers, body = requests[-1]
    assert verify(SECRET, headers[SIGNATURE_HEADER.lower()], body, now=clock.now().timestamp())
    synced.expire_all()
    delivery = synced.get(WebhookDelivery, delivery_id)
    assert [h["code"] for h in delivery.history] == [500, 503, 500, 200]
    assert delivery.status == "delivered" and delivery.attempts == 4


def test_an_unreachable_crm_is_given_up_after_the_last_attempt(people, lead, synced, services, clock, endpoint):
    """Nothing listening: each attempt records the error; after MAX_ATTEMPTS the delivery is failed."""
    with Receiver() as crm:
        url = crm.url
    endpoint(url)
    lead("priya@acme.example")
    [delivery_id] = due_deliveries(synced, now=clock.now())
    synced.commit()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with pytest.raises(WebhookError):
            deliver(services, delivery_id, timeout=2)
        clock.advance(backoff(attempt))
    synced.expire_all()
    delivery = synced.get(WebhookDelivery, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
    assert delivery.history[0]["error"].startswith("no answer:")


def test_every_decision_is_sent_too(people, lead, synced, clock):
    """Accepting a lead owes a handoff.accepted delivery after the handoff's own."""
    configure_crm(synced, "https://crm.example/hook", now=clock.now(), secret=SECRET)
    synced.commit()
    handoff = lead("priya@acme.example")
    respond(synced, handoff, people["rep"], accept=True, rating=5, reasons=[], comment="", now=clock.now())
    synced.commit()
    assert synced.scalars(select(WebhookDelivery.event).order_by(WebhookDelivery.id)).all() == [
        "handoff.created", "handoff.assigned", "handoff.accepted"]
