"""The agreement on PostgreSQL, fed through the batch event API: every kind of fit criterion graded
with the value that decided it, and each assignment strategy (territory, account owner, round robin)
choosing the rep, with the scores equal to the per-contact path."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.contacts.api_keys import create_api_key
from app.domain.campaigns.sync import sync_directory
from app.domain.contacts.records import rule_fields
from app.domain.qualification.qualify import contact_events, load_agreement, score_values
from app.domain.contacts.users import create_user
from app.models import Contact, Handoff
from tests.conftest import ROOT
from tests.loop_steps import PRIYA

pytestmark = pytest.mark.integration
SITE = "https://www.brightline.example"


def test_fit_grades_and_every_assignment_strategy_through_the_batch_api(prod_app, prod_clock):
    """Six contacts, one batch of events with three demo requests and a pricing-page streak: the German
    lead goes to the EMEA rep, the colleague of an owned account to its owner, the others round-robin."""
    services = prod_app.extensions["nurture"]
    client = prod_app.test_client()
    now = prod_clock.now()
    with services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=now)
        emea, _ = create_user(session, "erika@nurture.test", "sales", now=now, territory={"regions": ["EMEA"]})
        ana, _ = create_user(session, "ana@nurture.test", "sales", now=now)
        ben, _ = create_user(session, "ben@nurture.test", "sales", now=now)
        headers = {"Authorization": f"Bearer {create_api_key(session, 'it', now, scopes=['admin'])}"}
        session.commit()
    people = {
        "owned": {**PRIYA},
        "colleague": {**PRIYA, "email": "raj@acme-automation.example", "first_name": "Raj"},
        "german": {**PRIYA, "email": "jonas@werk.example", "first_name": "Jonas", "country": "DE"},
        "us1": {**PRIYA, "email": "kim@plant-one.example", "first_name": "Kim"},
        "us2": {**PRIYA, "email": "lee@plant-two.example", "first_name": "Lee", "fields": {"plc": "Siemens"}},
        "poor": {"email": "ivy@gmail.com", "title": "Intern", "industry": "retail", "company_size": 4,
                 "budget": 500, "timeline": "24 months", "country": "BR"},
    }
    for person in people.values():
        assert client.post("/api/v1/contacts", json=person, headers=headers).status_code == 201

    first = client.post("/api/v1/events/batch", headers=headers, json={"events": [
        {"email": people["owned"]["email"], "type": "demo_request", "id": "e0"}]})
    assert first.status_code == 202 and first.get_json()["handed_off"] == 1
    with services.sessions() as session:
        owner = session.scalar(select(Handoff)).rep_id

    events = [{"email": people[k]["email"], "type": "demo_request", "id": f"d-{k}"}
              for k in ("colleague", "german", "us1", "us2", "poor")]
    events += [{"email": people["us2"]["email"], "type": "page_view", "url": f"{SITE}/pricing", "id": f"p{i}"}
               for i in range(5)]
    answer = client.post("/api/v1/events/batch", headers=headers, json={"events": events})
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["handed_off"] == 4 and answer.get_json()["stored"] == 10

    with services.sessions() as session:
        by_email = {c.email: c for c in session.scalars(select(Contact))}
        handoffs = {h.contact.email: h for h in session.scalars(select(Handoff))}
        colleague, german = handoffs[people["colleague"]["email"]], handoffs[people["german"]["email"]]
        assert (colleague.rep_id, colleague.assignment) == (owner, "account owner")
        assert (german.rep_id, german.assignment) == (emea.id, "territory")
        round_robin = [handoffs[people[k]["email"]] for k in ("us1", "us2")]
        assert {h.assignment for h in round_robin} == {"round robin"}
        assert {h.rep_id for h in round_robin} | {owner} == {ana.id, ben.id}
        assert people["poor"]["email"] not in handoffs and by_email["ivy@gmail.com"].grade == "D"

        poor = by_email["ivy@gmail.com"].fit_reasons
        missed = {m["name"]: m["value"] for m in poor["missed"]}
        assert missed == {"Target industry": "retail", "Company size 50 to 10,000": 4,
                          "Decision-making title": "Intern", "Budget at least $10,000": 500,
                          "Buying within 12 months": 24, "Served country": "BR"}
        lee = by_email[people["us2"]["email"]]
        assert lee.grade == "A" and {m["name"] for m in lee.fit_reasons["met"]} == set(missed)
        assert lee.score == 60 + 50  # demo request, pricing visits capped at 50 a day
        agreement = load_agreement(session)
        for contact in by_email.values():
            expected = score_values(agreement, rule_fields(contact), contact_events(session, contact),
                                    now=contact.scored_at, reset_at=contact.score_reset_at)
            assert (contact.score, contact.grade, contact.score_reasons) == (
                expected["score"], expected["grade"], expected["score_reasons"]), contact.email


def test_concurrent_batches_over_the_same_contacts_neither_deadlock_nor_lose_points(prod_app, prod_clock):
    """Eight transactions at once, each a batch over the same 30 contacts in its own order, next to
    single events: every event is stored and every score equals the per-contact path."""
    import random
    import threading

    from app.domain.engagement.batches import record_events
    from app.domain.engagement.events import record_event

    services = prod_app.extensions["nurture"]
    now = prod_clock.now()
    with services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=now)
        contacts = [Contact(email=f"c{i}@firm{i}.example", email_domain=f"firm{i}.example", fields={}, score=0,
                            grade="D", score_reasons=[], fit_reasons={}, stage="nurturing", created_at=now,
                            updated_at=now) for i in range(30)]
        session.add_all(contacts)
        session.commit()
        ids = [c.id for c in contacts]
    start, errors = threading.Barrier(10), []

    def batch(seed):
        rnd = random.Random(seed)
        order = rnd.sample(ids, len(ids))
        try:
            with services.sessions() as session:
                start.wait()
                record_events(session, [{"contact_id": cid, "type": "page_view", "url": f"{SITE}/blog/{seed}",
                                         "properties": {}, "occurred_at": now, "dedupe_key": None}
                                        for cid in order], now=now)
                session.commit()
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(repr(exc))

    def singles(seed):
        try:
            with services.sessions() as session:
                start.wait()
                for cid in random.Random(seed).sample(ids, 10):
                    record_event(session, session.get(Contact, cid), "email_open", now=now)
                    session.commit()
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=batch, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=singles, args=(100 + i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with services.sessions() as session:
        agreement = load_agreement(session)
        total = 0
        for contact in session.scalars(select(Contact).where(Contact.id.in_(ids))):
            events = contact_events(session, contact)
            total += len(events)
            expected = score_values(agreement, rule_fields(contact), events, now=contact.scored_at,
                                    reset_at=None)
            assert contact.score == expected["score"] > 0, contact.email
    assert total == 8 * 30 + 2 * 10
