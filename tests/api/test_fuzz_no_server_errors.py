"""Random JSON (deep nesting, huge numbers, odd strings, wrong types) posted to the main API endpoints,
the public form and the beacon: whatever it holds, the answer is never a 5xx (and never an exception
out of the app). Bounded and derandomized, so every run posts the same examples."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.models import Contact, Handoff

ODD_TEXT = ["", " ", "\x00", "\ud800", "\udfff", "a\r\nb", "\u2028", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00",
            "2026-01-01", "1e999", "-1", "NaN", "²", "9" * 5000, "a" * 3000, "{{ contact.email }}", "https://a.example/\r\n",
            "javascript:alert(1)", "a@b.example", "A@B.EXAMPLE ", "won", "accept", "page_view", "demo_request", "[]"]
PLAIN_TEXT = [t for t in ODD_TEXT if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]  # a URL or form cannot carry those
HUGE = [2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**100, int("9" * 4000), 0, -1, 1]
FIELDS = ["email", "first_name", "last_name", "company", "title", "industry", "company_size", "budget", "timeline",
          "timeline_months", "country", "timezone", "fields", "consent", "type", "contact_id", "url", "properties",
          "occurred_at", "id", "events", "views", "token", "seconds", "title", "user", "decision", "rating", "reasons",
          "comment", "outcome", "amount", "reason", "agreement", "since", "until", "scoring", "qualification", "fit",
          "campaign", "label", "email_consent", "tracking", "granted", "at", "basis", "source", "page", "t", "v", "u",
          "s", "n", "ti"]

scalars = st.one_of(st.none(), st.booleans(), st.sampled_from(HUGE), st.integers(), st.floats(allow_nan=True),
                    st.sampled_from(ODD_TEXT), st.text(st.characters(exclude_categories=()), max_size=30))
keys = st.one_of(st.sampled_from(FIELDS), st.text(st.characters(exclude_categories=()), max_size=10))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(keys, inner, max_size=6)), max_leaves=25)
deep = st.integers(0, 1200).map(lambda n: "[" * n + "]" * n)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), documents, max_size=8).map(lambda d: json.dumps(d)),
    documents.map(json.dumps),
    deep,
    deep.map(lambda d: '{"email": "a@b.example", "fields": {"x": ' + d + "}}"),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
API_PATHS = ["/api/v1/contacts", "/api/v1/events", "/api/v1/events/batch", "/api/v1/pageviews", "/api/v1/forms/demo",
             "/api/v1/qr", "/api/v1/reports/whatif", "/api/v1/contacts/{contact}/consent",
             "/api/v1/handoffs/{handoff}/decision", "/api/v1/handoffs/{handoff}/feedback",
             "/api/v1/handoffs/{handoff}/outcome", "/api/v1/handoffs/{handoff}/recycle"]


@pytest.fixture
def ids(synced, make_user, api, session, clock):
    """A contact and a handoff for the paths that name one."""
    make_user("admin@nurture.test", "admin")
    make_user("alex@nurture.test", "sales")
    api.post("/api/v1/contacts", json={"email": "priya@acme.example", "title": "Controls Engineer",
                                        "industry": "Manufacturing", "company_size": 500, "budget": 60000})
    api.post("/api/v1/events", json={"email": "priya@acme.example", "type": "demo_request"})
    contact = session.scalar(select(Contact).where(Contact.email == "priya@acme.example"))
    handoff = session.scalar(select(Handoff))
    return {"contact": contact.id, "handoff": handoff.id if handoff else 1, "token": contact.public_id}


def _fine(response, what) -> None:
    assert response.status_code < 500, (what, response.status_code, response.get_data(as_text=True)[:300])


@pytest.mark.parametrize("path", API_PATHS)
def test_the_api_answers_random_json_without_a_server_error(client, api_key, ids, path):
    url = path.format(**ids)

    @FUZZ
    @given(body=bodies)
    def post(body):
        _fine(client.post(url, data=body, content_type="application/json",
                          headers={"Authorization": f"Bearer {api_key}"}), body[:200])
    post()


def test_the_put_agreement_and_the_query_strings_answer_without_a_server_error(client, api_key, ids):
    headers = {"Authorization": f"Bearer {api_key}"}

    @FUZZ
    @given(body=bodies, value=st.one_of(st.sampled_from(PLAIN_TEXT), st.text(max_size=40)),
           name=st.sampled_from(["since", "until", "limit", "status", "rep", "cursor"]))
    def send(body, value, name):
        _fine(client.put("/api/v1/agreement", data=body, content_type="application/json", headers=headers), body[:200])
        for path in ("/api/v1/handoffs", "/api/v1/reports/criteria", "/api/v1/reports/suggestions"):
            _fine(client.get(path, query_string={name: value}, headers=headers), (path, name, value[:100]))
    send()


def test_the_public_form_and_the_beacon_answer_without_a_server_error(client, services, ids):
    token = services.tokens.contact_token(ids["token"])

    @FUZZ
    @given(body=bodies, form=st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(PLAIN_TEXT) | st.text(max_size=30),
                                             max_size=6),
           view=st.dictionaries(st.sampled_from(["id", "u", "ti", "r", "s", "n"]), documents, max_size=6))
    def post(body, form, view):
        _fine(client.post("/f/demo.json", data=body, content_type="application/json"), body[:200])
        _fine(client.post("/f/demo", data=form), form)
        beacon = json.dumps({"t": token, "v": "visitor0001", "views": [{"id": "view00000001", **view}]})
        for raw in (body, beacon):
            response = client.post("/t/s/collect", data=raw, content_type="text/plain")
            assert response.status_code in (204, 429), raw[:200]
    post()
