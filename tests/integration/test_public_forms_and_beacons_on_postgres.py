"""The public form's double opt-in and the beacon's limits on PostgreSQL and a real Redis (where the
fast path speaks raw RESP): a held form changes nothing until confirmed and applies once; a token's
flood of beacons is refused at the door and views beyond a reader's pace do not score."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.domain.contacts.api_keys import SCOPES, create_api_key
from app.models import Contact, Event, FormConfirmation, Message, MessageKind
from tests.loop_steps import BROWSER_UA

pytestmark = pytest.mark.integration

KNOWN = {"email": "lee.wong@acme-automation.example", "company": "Acme Automation", "title": "Controls Engineer",
         "industry": "manufacturing", "company_size": 850, "country": "US"}


@pytest.fixture
def client(prod_app):
    return prod_app.test_client()


@pytest.fixture
def contact_id(prod_app, prod_clock, client):
    with prod_app.extensions["nurture"].sessions() as session:
        key = create_api_key(session, "tests", prod_clock.now(), SCOPES)
        session.commit()
    created = client.post("/api/v1/contacts", json=KNOWN, headers={"Authorization": f"Bearer {key}"})
    assert created.status_code == 201
    return created.get_json()["id"]


def test_a_held_form_changes_nothing_until_confirmed_and_applies_once(prod_app, client, contact_id):
    services = prod_app.extensions["nurture"]
    posted = client.post("/f/contact-sales", data={"email": KNOWN["email"], "company": "Attacker Chosen Inc",
                                                   "budget": "500000", "event": "demo_request", "plc": "S7-1500"})
    assert posted.status_code == 200
    with services.sessions() as session:
        assert session.get(Contact, contact_id).company == "Acme Automation"
        held = session.scalar(select(FormConfirmation))
        assert held.fields["company"] == "Attacker Chosen Inc" and held.answers == {"plc": "S7-1500"}
        notice = session.get(Message, held.message_id)
        assert (notice.kind, notice.to_email) == (MessageKind.NOTIFICATION, KNOWN["email"])
        path = services.tokens.confirm_url(held.public_id).removeprefix(services.config.base_url)
    assert client.get(path).status_code == 200
    for _ in range(2):
        assert client.post(path, data={"submission": held.public_id}).status_code == 200
    with services.sessions() as session:
        contact = session.get(Contact, contact_id)
        assert (contact.company, contact.budget) == ("Attacker Chosen Inc", 500000)
        assert session.scalar(select(func.count()).select_from(Event).where(Event.type == "demo_request")) == 1


def test_beacons_are_limited_per_token_and_paced_per_contact(prod_app, client, contact_id):
    services = prod_app.extensions["nurture"]
    with services.sessions() as session:
        token = services.tokens.contact_token(session.get(Contact, contact_id).public_id)

    def beacon(prefix, count):
        body = json.dumps({"t": token, "views": [{"id": f"{prefix}{i:06d}", "u": f"https://www.brightline.example/p{i}",
                                                  "s": 3, "n": 1} for i in range(count)]})
        return client.post("/t/s/collect", data=body, content_type="text/plain", headers={"User-Agent": BROWSER_UA})

    assert beacon("bulk", 50).status_code == 204
    assert [beacon(f"b{i:02d}x", 1).status_code for i in range(10)] == [204] * 9 + [429]
    with services.sessions() as session:
        counts = dict(session.execute(select(Event.is_machine, func.count()).where(Event.type == "page_view")
                                      .group_by(Event.is_machine)).all())
    assert counts == {False: 10, True: 49}
