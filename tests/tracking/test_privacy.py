"""Consent recorded with basis, source and time; export of everything held; erasure that cannot be undone."""
from __future__ import annotations

from sqlalchemy import func, select

import pytest

from app.models import Contact, Event, Message, OutboxEmail
from app.models.event import Suppression
from tests.loop_steps import BROWSER_UA, PRIYA, parts, tracking_paths


@pytest.fixture
def erase(client, api_key):
    return lambda contact_id: client.delete(f"/api/v1/contacts/{contact_id}",
                                            headers={"Authorization": f"Bearer {api_key}"})


def test_consent_to_email_and_to_track_are_recorded_separately_with_basis_source_and_time(api, clock, session):
    """The API takes each permission with its basis and source; the contact shows both, with times."""
    body = {**PRIYA, "consent": {"email": {"granted": True, "basis": "consent", "source": "webinar sign-up"},
                                 "tracking": False}}
    contact = api.post("/api/v1/contacts", json=body).get_json()
    assert contact["consent"]["email"] == {"granted": True, "basis": "consent", "source": "webinar sign-up",
                                           "at": clock.now().isoformat()}
    assert contact["consent"]["tracking"]["granted"] is False
    changed = api.post(f"/api/v1/contacts/{contact['id']}/consent",
                       json={"consent": {"tracking": {"granted": True, "basis": "consent", "source": "preference centre"}}})
    assert changed.status_code == 200 and changed.get_json()["consent"]["tracking"]["granted"] is True
    history = api.get(f"/api/v1/contacts/{contact['id']}/export").get_json()["history"]
    assert any(h["attribute"] == "tracking_consent" and h["to_value"] == "granted" for h in history)


def test_a_new_contact_without_stated_consent_shows_the_implied_basis(api, clock):
    """Nothing is left unexplained: the default permission is recorded as legitimate interest, from its source."""
    contact = api.post("/api/v1/contacts", json={"email": "x@example.org", "source": "trade show"}).get_json()
    assert contact["consent"]["email"] == {"granted": True, "basis": "legitimate_interest", "source": "trade show",
                                           "at": clock.now().isoformat()}


def test_withdrawing_email_consent_stops_the_drips(synced, api, session):
    """Permission to email withdrawn: active enrollments stop and nothing more is sent."""
    from app.models import Enrollment

    contact = api.post("/api/v1/contacts", json=PRIYA).get_json()
    api.post(f"/api/v1/contacts/{contact['id']}/consent", json={"email": False})
    session.expire_all()
    assert {e.status for e in session.scalars(select(Enrollment))} == {"stopped"}


def test_bad_consent_input_names_the_field(api):
    """A malformed consent record is a 422 naming the exact field."""
    for consent, field in (("yes", "consent"), ({"sms": True}, "consent.sms"),
                           ({"email": {"granted": "yes"}}, "consent.email.granted"),
                           ({"email": {"granted": True, "basis": "because"}}, "consent.email.basis"),
                           ({"email": {"granted": True, "at": "yesterday"}}, "consent.email.at")):
        response = api.post("/api/v1/contacts", json={"email": "c@example.org", "consent": consent})
        assert response.status_code == 422 and response.get_json()["error"]["field"] == field


def test_export_holds_everything_about_the_contact(sent, client, api):
    """The export has the contact's fields and consent, its events, messages, enrollments and history."""
    pixel, _ = tracking_paths(parts(sent[0])[0])
    client.get(pixel, headers={"User-Agent": BROWSER_UA})
    export = api.get(f"/api/v1/contacts/{sent[1]}/export").get_json()
    assert export["contact"]["email"] == PRIYA["email"] and export["contact"]["email_consent"] is True
    assert {e["type"] for e in export["events"]} >= {"email_sent", "email_open"}
    assert export["messages"][0]["to_email"] == PRIYA["email"]
    assert export["enrollments"] and export["history"]
    for missing in ("999", "99999999999999999999999"):  # the second is beyond any database key
        response = api.get(f"/api/v1/contacts/{missing}/export")
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_erasure_leaves_only_a_hash_and_the_address_cannot_come_back(sent, api, session, client, erase):
    """After erasure nothing names the person; a later API upsert, form or event cannot re-add the address."""
    assert erase(sent[1]).status_code == 200
    session.expire_all()
    assert session.get(Contact, sent[1]) is None
    assert session.scalar(select(func.count()).select_from(Event).where(Event.contact_id == sent[1])) == 0
    assert session.scalar(select(func.count()).select_from(OutboxEmail)) == 0
    assert {m.to_email for m in session.scalars(select(Message))} == {"erased"}
    [entry] = session.scalars(select(Suppression)).all()
    assert "priya" not in entry.email_hash and len(entry.email_hash) == 64
    again = api.post("/api/v1/contacts", json=PRIYA)
    assert again.status_code == 422 and again.get_json()["error"]["field"] == "email"
    assert api.post("/api/v1/events", json={"email": PRIYA["email"].upper(), "type": "page_view"}).status_code == 422
    assert client.post("/f/newsletter.json", json={"email": PRIYA["email"]}).status_code == 422
    assert session.scalar(select(Contact).where(Contact.email == PRIYA["email"])) is None


def test_links_in_an_erased_contacts_email_still_answer_safely(sent, api, client, session, erase):
    """The pixel still answers and the unsubscribe page still loads; nothing is recorded about anyone."""
    pixel, _ = tracking_paths(parts(sent[0])[0])
    erase(sent[1])
    assert client.get(pixel, headers={"User-Agent": BROWSER_UA}).status_code == 200
    assert session.scalar(select(func.count()).select_from(Event)) == 0
