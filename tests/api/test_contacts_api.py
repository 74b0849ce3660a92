"""The JSON API: upserts, events, errors that name the field, and authentication."""
from __future__ import annotations

import pytest


def test_contact_is_created_then_updated_by_email(synced, api):
    """POST twice with the same email: 201 then 200, and the second call updates fields."""
    first = api.post("/api/v1/contacts", json={"email": "Ana@Example.ORG", "title": "Controls Engineer",
                                                "industry": "Manufacturing"})
    assert first.status_code == 201
    assert first.get_json()["email"] == "ana@example.org"
    assert first.get_json()["persona"] == "engineer"
    second = api.post("/api/v1/contacts", json={"email": "ana@example.org", "company": "Acme", "fields": {"plc": "S7"}})
    assert second.status_code == 200
    body = second.get_json()
    assert (body["id"], body["company"], body["title"], body["fields"]) == (
        first.get_json()["id"], "Acme", "Controls Engineer", {"plc": "S7"})


@pytest.mark.parametrize("payload, field", [
    ({}, "email"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@b.co", "company_size": -3}, "company_size"),
    ({"email": "a@b.co", "timezone": "Mars/Olympus"}, "timezone"),
    ({"email": "a@b.co", "country": "USA"}, "country"),
    ({"email": "a@b.co", "timeline": "someday"}, "timeline"),
    ({"email": "a@b.co", "favourite_colour": "blue"}, "favourite_colour"),
    ({"email": "a@b.co", "first_name": "Eve\r\nBcc: x@y.z"}, "first_name"),
    ({"email": "a@b.co", "fields": {"bad key": 1}}, "fields.bad key"),
])
def test_invalid_contact_is_refused_with_the_field_named(api, payload, field):
    """Bad input gets a 422 whose JSON names the field, and nothing is stored."""
    response = api.post("/api/v1/contacts", json=payload)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field


def test_non_json_body_is_a_clear_400_class_error(api):
    """A body that is not a JSON object is refused with a message, not a traceback."""
    response = api.post("/api/v1/contacts", data="email=a@b.co", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert "JSON" in response.get_json()["error"]["message"]
    assert api.post("/api/v1/contacts", json=[1, 2]).status_code == 422


def test_requests_without_a_valid_key_are_unauthorised(client):
    """No key, a wrong scheme or an unknown key: 401 with a JSON error."""
    assert client.post("/api/v1/contacts", json={"email": "a@b.co"}).status_code == 401
    wrong = client.get("/api/v1/handoffs", headers={"Authorization": "Bearer nk_nope"})
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["code"] == "unauthorized"


def test_unknown_contact_is_404_json(api):
    """GET of a contact that does not exist answers 404 with the error shape."""
    response = api.get("/api/v1/contacts/999999")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("payload, field", [
    ({"email": "a@b.co"}, "type"),
    ({"email": "a@b.co", "type": "Page View"}, "type"),
    ({"email": "a@b.co", "type": "email_open"}, "type"),
    ({"type": "page_view"}, "email"),
    ({"email": "a@b.co", "type": "page_view", "occurred_at": "yesterday"}, "occurred_at"),
    ({"email": "a@b.co", "type": "page_view", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
    ({"email": "a@b.co", "type": "page_view", "properties": "x"}, "properties"),
    ({"contact_id": "7", "type": "page_view"}, "contact_id"),
])
def test_invalid_event_is_refused_with_the_field_named(api, payload, field):
    """Events are validated too; tracking-only types cannot be forged through the API."""
    response = api.post("/api/v1/events", json=payload)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["field"] == field


def test_event_with_the_same_id_is_recorded_once(synced, api):
    """A producer that retries with the same idempotency id does not double the score."""
    event = {"email": "b@example.org", "type": "page_view", "url": "https://www.brightline.example/pricing", "id": "evt-1"}
    assert api.post("/api/v1/events", json=event).status_code == 202
    assert api.post("/api/v1/events", json=event).status_code == 200
    contact_id = api.post("/api/v1/contacts", json={"email": "b@example.org"}).get_json()["id"]
    body = api.get(f"/api/v1/contacts/{contact_id}").get_json()
    assert body["score"] == 25
    assert [e["type"] for e in body["timeline"]] == ["page_view"]


def test_event_for_unknown_contact_id_is_404(api):
    """An event naming a contact id that does not exist is refused."""
    assert api.post("/api/v1/events", json={"contact_id": 424242, "type": "page_view"}).status_code == 404


def test_handoffs_limit_is_validated(api):
    """A bad query parameter is a 422 naming it."""
    response = api.get("/api/v1/handoffs?limit=lots")
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "limit"
