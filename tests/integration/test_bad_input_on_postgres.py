"""Input PostgreSQL refuses where SQLite does not: a NUL in text, and numbers past its 32-bit INTEGER
columns. Each is a 4xx at the edge, with or without a sign-in, never a 500 from the database."""
from __future__ import annotations

import re

import pytest

from app.domain.contacts.api_keys import SCOPES, create_api_key
from app.domain.contacts.users import create_user

pytestmark = pytest.mark.integration

ENGINEER = {"email": "priya@acme.example", "title": "Controls Engineer", "industry": "Manufacturing"}


@pytest.fixture
def client(prod_app):
    return prod_app.test_client()


@pytest.fixture
def headers(prod_app, prod_clock):
    with prod_app.extensions["nurture"].sessions() as session:
        key = create_api_key(session, "tests", prod_clock.now(), SCOPES)
        create_user(session, "admin@nurture.test", "admin", now=prod_clock.now(), password="correct-horse")
        session.commit()
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("raw", [
    '{"email": "a@b.example", "first_name": "Eve\\u0000"}',
    '{"email": "a@b.example", "fields": {"plc": "S7\\u0000"}}',
    '{"email": "a\\u0000@b.example"}',
])
def test_a_nul_in_api_json_is_refused(client, headers, raw):
    response = client.post("/api/v1/contacts", data=raw, content_type="application/json", headers=headers)
    assert response.status_code == 422, response.data


def test_a_nul_in_an_event_or_a_form_submission_over_the_api_is_refused(client, headers):
    for path, raw in (("/api/v1/events", '{"email": "a@b.example", "type": "page_view", "url": "https://a\\u0000"}'),
                      ("/api/v1/events", '{"email": "a@b.example", "type": "page_view", "properties": {"\\u0000": 1}}'),
                      ("/api/v1/forms/demo", '{"email": "a@b.example", "company": "\\u0000"}')):
        response = client.post(path, data=raw, content_type="application/json", headers=headers)
        assert response.status_code == 422, (path, response.data)


def test_a_nul_in_the_public_form_is_refused_without_a_sign_in(client):
    """The embeddable form and its JSON twin, posted by anyone."""
    page = client.post("/f/demo", data={"email": "a@b.example", "first_name": "Eve\x00"})
    assert page.status_code == 400
    json_form = client.post("/f/demo.json", data='{"email": "a@b.example", "company": "A\\u0000"}',
                            content_type="application/json")
    assert json_form.status_code == 422
    assert client.get("/f/de\x00mo").status_code in (400, 404)


def test_a_nul_in_the_sign_in_form_is_refused(client, headers):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    for form in ({"email": "admin@nurture.test\x00", "password": "correct-horse"},
                 {"email": "admin@nurture.test", "password": "correct-horse\x00"}):
        response = client.post("/login", data={**form, "csrf_token": token})
        assert response.status_code == 400, response.data[:300]


def test_a_nul_in_a_query_or_an_address_is_refused(client, headers):
    assert client.get("/api/v1/handoffs", query_string={"rep": "a\x00@b.example"}, headers=headers).status_code == 400
    assert client.get("/api/v1/qr/ab\x00cd.svg", headers=headers).status_code in (400, 404)
    assert client.get("/api/v1/reports/criteria", query_string={"since": "2026-01-01\x00"},
                      headers=headers).status_code in (400, 422)


@pytest.mark.parametrize("number", [2**31, 2**32 + 5, 2**63 - 1])
def test_ids_past_the_32_bit_columns_are_not_found_or_refused(client, headers, number):
    assert client.get(f"/api/v1/contacts/{number}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/handoffs/{number}", headers=headers).status_code == 404
    for path, body, field in (
            ("/api/v1/events", {"contact_id": number, "type": "page_view"}, "contact_id"),
            ("/api/v1/events/batch", {"events": [{"contact_id": number, "type": "page_view"}]}, "events[0].contact_id"),
            ("/api/v1/pageviews", {"views": [{"contact_id": number, "url": "https://a.example/"}]},
             "views[0].contact_id"),
            ("/api/v1/qr", {"campaign": number, "url": "https://a.example/"}, "campaign"),
            ("/api/v1/contacts", {**ENGINEER, "budget": number}, "budget"),
            ("/api/v1/contacts", {**ENGINEER, "company_size": number}, "company_size")):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 422, (path, response.data)
        assert response.get_json()["error"]["field"] == field


def test_the_largest_32_bit_numbers_are_stored(client, headers):
    response = client.post("/api/v1/contacts", json={**ENGINEER, "budget": 2**31 - 1}, headers=headers)
    assert response.status_code == 201 and response.get_json()["budget"] == 2**31 - 1
    assert client.get(f"/api/v1/contacts/{2**31 - 1}", headers=headers).status_code == 404
