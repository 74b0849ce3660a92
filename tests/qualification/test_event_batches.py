"""Events in batches: stored at once, each contact reacting and re-scored once, with the scores,
grades, handoffs and errors the one-at-a-time path gives."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.domain.engagement.batches import record_events, resolve_contacts
from app.models import Enrollment, Event, Handoff, Message, MessageKind

from .conftest import SITE, reload

HISTORY = [("page_view", "/pricing", 40), ("page_view", "/careers", 39), ("email_click", "/pricing", 20)] + [
    ("page_view", "/blog/backlash", 3)] * 12 + [("page_view", "/pricing", 2)] * 4 + [("content_download", None, 1)]


def parsed(contact, history, clock, **extra):
    return [{"contact_id": contact.id, "email": None, "type": kind, "url": SITE + path if path else None,
             "properties": {}, "occurred_at": clock.now() - timedelta(days=days), "dedupe_key": None, **extra}
            for kind, path, days in history]


def without_ids(reasons):
    return [{k: v for k, v in r.items() if k != "event_id"} for r in reasons]


def test_a_batch_scores_and_grades_as_the_events_one_at_a_time(contact, event, synced, clock):
    """Same profile, same history: one contact fed event by event, its twin in one batch; equal scores,
    reasons (caps and decay included) and grades."""
    alone, twin = contact("ana@acme.example"), contact("ben@acme.example")
    for kind, path, days in HISTORY:
        event(alone, kind, url=SITE + path if path else None, ago=timedelta(days=days))
    stored, stats = record_events(synced, parsed(twin, HISTORY, clock), now=clock.now())
    synced.commit()
    alone, twin = reload(synced, alone), reload(synced, twin)
    assert stored == len(HISTORY) and stats.contacts == 1
    assert twin.score == alone.score > 0
    assert without_ids(twin.score_reasons) == without_ids(alone.score_reasons)
    assert (twin.grade, twin.fit_reasons) == (alone.grade, alone.fit_reasons)
    assert twin.last_activity_at == alone.last_activity_at


def test_a_demo_request_in_a_batch_fast_tracks_the_contact(rep, contact, synced, clock):
    """An A-grade contact's demo request among other events is handed off at once, with the rep notified
    and its nurture stopped; a D-grade contact's demo request in the same batch is not."""
    alex = rep("alex")
    priya = contact("priya@acme.example")
    intern = contact("ivy@gmail.com", title="Intern", industry="retail", company_size=3, budget=None,
                     timeline="", country="BR")
    batch = parsed(priya, [("page_view", "/blog/x", 0), ("demo_request", None, 0)], clock) + parsed(
        intern, [("demo_request", None, 0)], clock)
    stored, stats = record_events(synced, batch, now=clock.now())
    synced.commit()
    assert stored == 3 and len(stats.handed_off) == 1
    handoff = synced.scalar(select(Handoff))
    assert (handoff.contact_id, handoff.rep_id) == (priya.id, alex.id)
    assert handoff.reason == "fast track: demo request by a grade A contact"
    assert reload(synced, priya).stage == "handed_off" and reload(synced, intern).stage != "handed_off"
    assert synced.scalar(select(func.count()).select_from(Message).where(
        Message.kind == MessageKind.NOTIFICATION, Message.to_email == alex.email)) == 1
    assert synced.scalar(select(func.count()).select_from(Enrollment).where(
        Enrollment.contact_id == priya.id, Enrollment.status == "active")) == 0


def test_unsubscribe_and_repeated_ids_in_a_batch(contact, synced, clock):
    """An unsubscribe in a batch unsubscribes and costs points; events with an id already recorded are
    skipped, so posting the same batch twice stores it once."""
    priya = contact("priya@acme.example")
    batch = parsed(priya, [("page_view", "/pricing", 0)], clock, dedupe_key="api:pv-1") + parsed(
        priya, [("unsubscribe", None, 0)], clock, dedupe_key="api:un-1")
    assert record_events(synced, batch, now=clock.now())[0] == 2
    assert record_events(synced, batch, now=clock.now())[0] == 0
    synced.commit()
    priya = reload(synced, priya)
    assert priya.email_status == "unsubscribed" and priya.score == 25 - 50
    assert synced.scalar(select(func.count()).select_from(Event).where(Event.contact_id == priya.id)) == 2


def test_unknown_emails_become_contacts_and_unknown_ids_are_refused(contact, synced, clock):
    """A new address in a batch becomes a contact; a contact_id that does not exist is a NotFound."""
    from app.domain.errors import NotFound

    batch = [{"contact_id": None, "email": "new@firm.example", "type": "page_view", "url": None, "properties": {},
              "occurred_at": clock.now(), "dedupe_key": None}]
    resolve_contacts(synced, batch, now=clock.now())
    assert reload(synced, contact("new@firm.example")).id == batch[0]["contact_id"]
    with pytest.raises(NotFound):
        resolve_contacts(synced, [{**batch[0], "contact_id": 10**9}], now=clock.now())


def test_the_batch_api_answers_and_refuses_naming_the_event(api, contact, synced, people):
    """POST /api/v1/events/batch stores the lot (202) and hands off; bad input is a 4xx naming events[i]."""
    priya = contact("priya@acme.example")
    ok = api.post("/api/v1/events/batch", json={"events": [
        {"email": priya.email, "type": "page_view", "url": SITE + "/pricing", "id": "a1"},
        {"contact_id": priya.id, "type": "demo_request", "id": "a2"}]})
    assert ok.status_code == 202, ok.get_json()
    assert ok.get_json() == {"status": "accepted", "stored": 2, "duplicates": 0, "contacts": 1, "handed_off": 1}
    again = api.post("/api/v1/events/batch", json={"events": [{"email": priya.email, "type": "page_view",
                                                               "id": "a1"}]})
    assert again.status_code == 202 and again.get_json()["duplicates"] == 1
    for body, status, field in [
        ({"events": []}, 422, "events"),
        ({"events": [{"email": priya.email, "type": "page_view"}] * 1001}, 422, "events"),
        ({"events": "many"}, 422, "events"),
        ({"events": [{"email": priya.email, "type": "page_view"}, {"email": priya.email, "type": "Bad Type"}]},
         422, "events[1].type"),
        ({"events": [{"email": priya.email, "type": "email_open"}]}, 422, "events[0].type"),
        ({"events": [{"email": priya.email, "type": "x_y", "id": "d"}, {"email": priya.email, "type": "x_y",
                                                                        "id": "d"}]}, 422, "events"),
    ]:
        refused = api.post("/api/v1/events/batch", json=body)
        assert refused.status_code == status and refused.get_json()["error"]["field"] == field, refused.get_json()
    missing = api.post("/api/v1/events/batch", json={"events": [{"contact_id": 10**9, "type": "page_view"}]})
    assert missing.status_code == 404 and "events[0].contact_id" in missing.get_json()["error"]["message"]
    assert api.post("/api/v1/events/batch", data="[1", content_type="application/json").status_code == 422
