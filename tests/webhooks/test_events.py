"""Each event is owed from the one place where it happens, to the endpoints that take it, in the
same transaction; a real receiver gets it signed."""
from __future__ import annotations

import json

from app.domain.contacts.webhook_endpoints import update_endpoint
from app.domain.contacts.webhooks import EVENT_TYPES, SIGNATURE_HEADER, verify
from app.domain.handoff.feedback import record_outcome, respond
from tests.qualification.conftest import ENGINEER
from workers.scheduler import tick

from .conftest import SECRET

EVERYTHING = tuple(EVENT_TYPES)


def test_a_new_contact_is_posted_signed_to_a_receiver(synced, api, services, clock, drain, receiver, endpoint):
    """contact.created reaches the receiver with the contact and a signature that verifies."""
    crm = receiver()
    endpoint(crm.url, ["contact.created"])
    assert api.post("/api/v1/contacts", json={**ENGINEER, "email": "priya@acme.example"}).status_code == 201
    assert api.post("/api/v1/contacts", json={**ENGINEER, "email": "priya@acme.example", "title": "CTO"}).status_code == 200
    tick(services)
    drain()
    [(headers, body)] = crm.received()  # the update owes nothing
    assert headers["x-nurture-event"] == "contact.created"
    assert verify(SECRET, headers[SIGNATURE_HEADER.lower()], body, now=clock.now().timestamp())
    payload = json.loads(body)
    assert payload["contact"]["email"] == "priya@acme.example" and payload["contact"]["company"] == "Acme Automation"
    assert payload["id"] == headers["x-nurture-delivery"] and payload["actor"] == "api"


def test_a_qualified_lead_announces_itself_in_the_order_it_happened(people, lead, endpoint, owed):
    """contact.created, then lead.qualified, handoff.created and handoff.assigned, each naming the lead."""
    made = endpoint("https://crm.example/hooks", EVERYTHING, allow_private=False)
    handoff = lead("priya@acme.example")
    rows = owed(made.id)
    assert [d.event for d in rows] == ["contact.created", "lead.qualified", "handoff.created", "handoff.assigned"]
    qualified = rows[1].payload
    assert qualified["handoff_id"] == handoff.id and qualified["contact"]["email"] == "priya@acme.example"
    assert "demo request" in qualified["reason"]
    assert rows[3].payload["handoff"]["rep"]["email"] == people["rep"].email
    assert {d.contact_id for d in rows} == {handoff.contact_id}


def test_decisions_and_outcomes_are_owed(people, lead, synced, clock, endpoint, owed):
    """Accept, then an opportunity: handoff.accepted and outcome.recorded; a rejection is handoff.rejected."""
    made = endpoint("https://crm.example/hooks", ["handoff.accepted", "handoff.rejected", "outcome.recorded"],
                    allow_private=False)
    first, second = lead("priya@acme.example"), lead("sam@beta.example")
    respond(synced, first, people["rep"], accept=True, rating=5, reasons=[], comment="", now=clock.now())
    record_outcome(synced, first, people["rep"], outcome="opportunity", now=clock.now())
    respond(synced, second, people["rep"], accept=False, rating=2, reasons=["no budget"], comment="", now=clock.now())
    synced.commit()
    rows = owed(made.id)
    assert [(d.event, d.handoff_id) for d in rows] == [
        ("handoff.accepted", first.id), ("outcome.recorded", first.id), ("handoff.rejected", second.id)]
    assert rows[1].payload["handoff"]["outcome"] == "opportunity"


def test_an_unsubscribe_is_owed_once(synced, api, endpoint, owed):
    """An unsubscribe event: contact.unsubscribed with its cause; a second one changes nothing, owes nothing."""
    made = endpoint("https://crm.example/hooks", ["contact.unsubscribed"], allow_private=False)
    api.post("/api/v1/contacts", json={"email": "lee@gamma.example"})
    for _ in range(2):
        assert api.post("/api/v1/events", json={"email": "lee@gamma.example", "type": "unsubscribe"}).status_code == 202
    [row] = owed(made.id)
    assert row.payload["contact"]["email"] == "lee@gamma.example"
    assert row.payload["contact"]["email_status"] == "unsubscribed" and row.payload["cause"] == "unsubscribed"


def test_endpoints_get_only_what_they_take_and_nothing_while_inactive(synced, api, clock, endpoint, owed):
    """Two endpoints, different events; one deactivated hears nothing more, the other goes on."""
    contacts = endpoint("https://a.example/hooks", ["contact.created"], allow_private=False, name="a")
    leaving = endpoint("https://b.example/hooks", ["contact.created", "contact.unsubscribed"], allow_private=False,
                       name="b")
    api.post("/api/v1/contacts", json={"email": "one@delta.example"})
    update_endpoint(synced, leaving.id, {"active": False}, now=clock.now())
    synced.commit()
    api.post("/api/v1/contacts", json={"email": "two@delta.example"})
    api.post("/api/v1/events", json={"email": "two@delta.example", "type": "unsubscribe"})
    assert [d.payload["contact"]["email"] for d in owed(contacts.id)] == ["one@delta.example", "two@delta.example"]
    assert [d.event for d in owed(leaving.id)] == ["contact.created"]


def test_nothing_is_owed_when_the_change_is_rolled_back(synced, clock, endpoint, owed):
    """The delivery is written in the caller's transaction: no commit, no webhook."""
    from app.domain.engagement.arrivals import upsert_contact

    endpoint("https://crm.example/hooks", ["contact.created"], allow_private=False)
    upsert_contact(synced, {"email": "gone@epsilon.example"}, now=clock.now())
    synced.rollback()
    assert owed() == []
