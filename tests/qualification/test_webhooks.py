"""The CRM webhook: HMAC-SHA256 signed POSTs to a real server on loopback, retried with backoff, logged."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.domain.errors import ValidationError
from app.domain.handoff.feedback import respond
from app.domain.handoff.webhooks import (MAX_ATTEMPTS, SIGNATURE_HEADER, WebhookError, backoff, configure, deliver,
                                 due_deliveries, sign, verify)
from app.models import WebhookDelivery
from workers.scheduler import tick

from .webhook_server import Receiver

SECRET = "whsec_test_0123456789abcdef"


def test_signature_is_hmac_sha256_over_timestamp_and_body():
    """t=<unix>,v1=<hex>; verifying needs the same secret, the same bytes and a fresh timestamp."""
    header = sign(SECRET, 1767600000, b'{"a":1}')
    assert header == "t=1767600000,v1=" + __import__("hmac").new(SECRET.encode(), b'1767600000.{"a":1}',
                                                                 "sha256").hexdigest()
    assert verify(SECRET, header, b'{"a":1}', now=1767600100)
    assert not verify(SECRET, header, b'{"a":2}', now=1767600100)
    assert not verify("another-secret-xxxxxxxx", header, b'{"a":1}', now=1767600100)
    assert not verify(SECRET, header, b'{"a":1}', now=1767600000 + 301)
    assert not verify(SECRET, "garbage", b"", now=0)


def test_backoff_doubles_and_is_capped():
    """30 s, 1 min, 2 min … never more than two hours."""
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(20) == timedelta(hours=2)


def test_configuring_checks_the_url_and_makes_a_secret(synced, clock):
    """Only http(s) URLs; a secret is generated when none is given."""
    with pytest.raises(ValidationError) as refused:
        configure(synced, "ftp://crm.example/x", now=clock.now())
    assert refused.value.field == "url"
    assert configure(synced, "https://crm.example/hook", now=clock.now()).startswith("whsec_")


def test_a_handoff_is_posted_signed_to_the_crm(people, lead, synced, services, clock, drain):
    """The handoff's webhook reaches the server with event, delivery id and a valid signature."""
    with Receiver() as crm:
        configure(synced, crm.url, now=clock.now(), secret=SECRET)
        synced.commit()
        handoff = lead("priya@acme.example")
        assert tick(services)["qualification"]["webhooks"] == 1
        drain()
        [(headers, body)] = crm.received()
    assert headers["x-nurture-event"] == "handoff.assigned"
    assert headers["content-type"] == "application/json"
    assert verify(SECRET, headers[SIGNATURE_HEADER.lower()], body, now=clock.now().timestamp())
    payload = json.loads(body)
    assert payload["event"] == "handoff.assigned" and payload["id"] == headers["x-nurture-delivery"]
    assert payload["handoff"]["id"] == handoff.id and payload["handoff"]["rep"]["email"] == people["rep"].email
    assert payload["handoff"]["report_url"] == f"https://nurture.test/handoffs/{handoff.id}"
    assert payload["handoff"]["report"]["fit"]["grade"] == "A"
    synced.expire_all()
    delivery = synced.scalar(select(WebhookDelivery))
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 1, 200)
    assert delivery.history[0]["code"] == 200


def test_refusals_are_retried_with_backoff_and_every_attempt_logged(people, lead, synced, services, clock):
    """500 then 503 then 200: three attempts, 30 s and 60 s apart, each kept in the history."""
    with Receiver([500, 503]) as crm:
        configure(synced, crm.url, now=clock.now(), secret=SECRET)
        synced.commit()
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
        assert deliver(services, delivery_id) == "delivered"
        assert len(crm.received()) == 3
    synced.expire_all()
    delivery = synced.get(WebhookDelivery, delivery_id)
    assert [h["code"] for h in delivery.history] == [500, 503, 200]
    assert delivery.status == "delivered" and delivery.attempts == 3


def test_an_unreachable_crm_is_given_up_after_the_last_attempt(people, lead, synced, services, clock):
    """Nothing listening: each attempt records the error; after MAX_ATTEMPTS the delivery is failed."""
    with Receiver() as crm:
        url = crm.url
    configure(synced, url, now=clock.now(), secret=SECRET)
    synced.commit()
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
    """Accepting a lead owes a handoff.accepted delivery after the handoff.assigned one."""
    configure(synced, "https://crm.example/hook", now=clock.now(), secret=SECRET)
    synced.commit()
    handoff = lead("priya@acme.example")
    respond(synced, handoff, people["rep"], accept=True, rating=5, reasons=[], comment="", now=clock.now())
    synced.commit()
    assert synced.scalars(select(WebhookDelivery.event).order_by(WebhookDelivery.id)).all() == [
        "handoff.assigned", "handoff.accepted"]
