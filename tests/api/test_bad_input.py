"""Input a security review fuzzed the service with: each is answered with a 4xx naming what is wrong,
never a 500 (on SQLite here; tests/integration/test_bad_input_on_postgres.py has PostgreSQL's own)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app import RowId
from app.models import Contact, Event, Handoff

DEEP = "[" * 1000 + "]" * 1000
ENGINEER = {"email": "priya@acme.example", "title": "Controls Engineer", "industry": "Manufacturing"}


def _bodies_routes(app):
    """Every API route that takes a body, with its URL arguments filled in (ids 1, names "demo")."""
    for rule in app.url_map.iter_rules():
        methods = sorted(rule.methods & {"POST", "PUT", "PATCH"})
        if rule.rule.startswith("/api/") and methods:
            values = {arg: 1 if isinstance(rule._converters[arg], RowId) else "demo" for arg in rule.arguments}
            yield app.url_map.bind("nurture.test").build(rule.endpoint, values, method=methods[0]), methods[0]


def test_json_nested_a_thousand_deep_is_refused_on_every_api_endpoint(app, client, api_key):
    """Every endpoint that reads a body answers 4xx, and the JSON ones say the body is nested too deep."""
    routes = list(_bodies_routes(app))
    assert len(routes) >= 10
    for path, method in routes:
        response = client.open(path, method=method, data=DEEP, content_type="application/json",
                               headers={"Authorization": f"Bearer {api_key}"})
        assert 400 <= response.status_code < 500, (path, response.status_code, response.data[:200])
    contact = client.post("/api/v1/contacts", data='{"email": "a@b.example", "fields": {"x": ' + DEEP + "}}",
                          content_type="application/json", headers={"Authorization": f"Bearer {api_key}"})
    assert contact.status_code == 422
    assert contact.get_json()["error"] == {"code": "invalid", "field": "body",
                                           "message": "is nested more than 32 levels deep"}


def test_json_nested_a_thousand_deep_is_refused_by_the_public_form_and_ignored_by_the_beacon(client, session):
    """The JSON form answers 422 with its CORS headers; the beacon answers 204 and records nothing."""
    form = client.post("/f/demo.json", data=DEEP, content_type="application/json")
    assert form.status_code == 422 and form.headers["Access-Control-Allow-Origin"] == "*"
    beacon = client.post("/t/s/collect", data='{"t": "x", "views": ' + DEEP + "}", content_type="text/plain")
    assert beacon.status_code == 204
    assert session.scalars(select(Event)).all() == []


def _beacon(services, session, api, seconds: str) -> str:
    contact = session.get(Contact, api.post("/api/v1/contacts", json=ENGINEER).get_json()["id"])
    token = services.tokens.contact_token(contact.public_id)
    return ('{"t": "%s", "v": "visitor0001", "views": [{"id": "view00000001", "u": "https://www.example.com/",'
            ' "ti": "Home", "s": %s, "n": 1}]}' % (token, seconds))


def test_a_beacon_with_a_huge_number_is_answered_and_a_long_one_is_clamped(client, services, session, api):
    """4,000 digits: refused whole (204, nothing recorded). 90 digits: the view counts a day at most."""
    huge = client.post("/t/s/collect", data=_beacon(services, session, api, "9" * 4000), content_type="text/plain")
    assert huge.status_code == 204
    assert session.scalars(select(Event).where(Event.type == "page_view")).all() == []
    long = client.post("/t/s/collect", data=_beacon(services, session, api, "9" * 90), content_type="text/plain")
    assert long.status_code == 204
    session.expire_all()
    view = session.scalar(select(Event).where(Event.type == "page_view"))
    assert view is not None and view.properties["seconds"] == 86400


@pytest.mark.parametrize("path, raw, field", [
    ("/api/v1/contacts", '{"email": "a\\ud800@b.example"}', "email"),
    ("/api/v1/contacts", '{"email": "a@b.example", "first_name": "\\udfff"}', "first_name"),
    ("/api/v1/contacts", '{"email": "a@b.example", "fields": {"plc": "S7\\ud800"}}', "fields.plc"),
    ("/api/v1/events", '{"email": "a@b.example", "type": "page_view", "properties": {"k": ["\\ud800"]}}',
     "properties.k[0]"),
    ("/api/v1/forms/demo", '{"email": "a@b.example", "company": "\\ud800"}', "company"),
])
def test_a_lone_surrogate_in_api_text_is_refused_naming_the_field(api, path, raw, field):
    response = api.post(path, data=raw, content_type="application/json")
    assert response.status_code == 422, response.data
    assert response.get_json()["error"]["field"] == field


def test_a_lone_surrogate_in_a_public_form_post_is_refused_or_replaced(client):
    """The JSON form refuses it; an HTML form's bytes that are not UTF-8 arrive as U+FFFD, and the page answers."""
    response = client.post("/f/demo.json", data='{"email": "a@b.example", "first_name": "\\ud800"}',
                           content_type="application/json")
    assert response.status_code == 422
    page = client.post("/f/demo", data=b"email=a%40b.example&first_name=%ED%A0%80",
                       content_type="application/x-www-form-urlencoded")
    assert page.status_code < 500


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/events", {"contact_id": 2**63, "type": "page_view"}, "contact_id"),
    ("/api/v1/events", {"contact_id": 2**31, "type": "page_view"}, "contact_id"),
    ("/api/v1/events/batch", {"events": [{"contact_id": 2**63, "type": "page_view"}]}, "events[0].contact_id"),
    ("/api/v1/pageviews", {"views": [{"contact_id": 2**63, "url": "https://a.example/"}]}, "views[0].contact_id"),
    ("/api/v1/qr", {"campaign": 2**63, "url": "https://a.example/"}, "campaign"),
])
def test_ids_beyond_the_id_columns_are_refused_naming_the_field(api, path, body, field):
    response = api.post(path, json=body)
    assert response.status_code == 422, response.data
    assert response.get_json()["error"]["field"] == field


def test_ids_beyond_the_id_columns_in_the_address_are_not_found(api):
    for id_ in (2**31, 2**63, 2**63 - 1, "9" * 5000):
        assert api.get(f"/api/v1/contacts/{id_}").status_code == 404


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00",
                                  "9999-12-31T23:59:59Z"])
def test_times_at_year_1_or_9999_are_refused(api, when):
    event = api.post("/api/v1/events", json={"email": "a@b.example", "type": "page_view", "occurred_at": when})
    assert event.status_code == 422 and event.get_json()["error"]["field"] == "occurred_at"
    batch = api.post("/api/v1/events/batch", json={"events": [{"email": "a@b.example", "type": "page_view",
                                                               "occurred_at": when}]})
    assert batch.status_code == 422 and batch.get_json()["error"]["field"] == "events[0].occurred_at"
    consent = api.post("/api/v1/contacts", json={"email": "a@b.example", "consent": {"email": {"granted": True,
                                                                                             "at": when}}})
    assert consent.status_code == 422 and consent.get_json()["error"]["field"] == "consent.email.at"
    for query in (f"since={when}", f"until={when}"):
        for path in ("/api/v1/reports/criteria", "/api/v1/reports/suggestions"):
            response = api.get(path, query_string=query)
            assert response.status_code == 422, (path, query, response.data)
            assert response.get_json()["error"]["field"] == query.split("=")[0] or path.endswith("suggestions")
    whatif = api.post("/api/v1/reports/whatif", json={"agreement": {}, "since": when})
    assert whatif.status_code == 422 and whatif.get_json()["error"]["field"] == "since"


def test_a_window_inside_the_years_is_still_answered(api):
    response = api.get("/api/v1/reports/criteria", query_string="since=1900-01-01&until=2999-12-31")
    assert response.status_code == 200


def test_an_outcome_given_as_a_list_is_refused(api, make_user, session, clock):
    admin = make_user("admin@nurture.test", "admin")
    contact = api.post("/api/v1/contacts", json=ENGINEER).get_json()
    handoff = Handoff(contact_id=contact["id"], rep_id=admin.id, status="accepted", reason="test", assignment="test",
                      score=100, grade="A", report={}, created_at=clock.now())
    session.add(handoff)
    session.commit()
    response = api.post(f"/api/v1/handoffs/{handoff.id}/outcome", json={"user": admin.email, "outcome": ["won"]})
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "outcome"


@pytest.mark.parametrize("agreement", [{"scoring": [1]}, {"scoring": {"rules": 7}}, {"scoring": "x"}])
def test_a_whatif_with_scoring_that_is_not_a_mapping_lists_the_problem(api, agreement):
    response = api.post("/api/v1/reports/whatif", json={"agreement": agreement})
    assert response.status_code == 422
    assert any(p.startswith("scoring") for p in response.get_json()["error"]["problems"])


@pytest.mark.parametrize("limit", ["1" * 5000, "²", "0", "1001", "-1", "1e3"])
def test_a_limit_that_is_no_small_number_is_refused(api, limit):
    response = api.get("/api/v1/handoffs", query_string={"limit": limit})
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "limit"


@pytest.mark.parametrize("month", ["9999-12", "3000-01", "0001-01"])
def test_a_monthly_review_far_out_of_range_is_refused(api, make_user, month):
    rep = make_user("alex@nurture.test", "sales")
    response = api.get(f"/api/v1/reviews/{rep.id}/{month}")
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "month"


@pytest.mark.parametrize("body", [b"hello, not an email", b"\x00\xff\xfe", b"X-Header: value\n\nno sender",
                                  json.dumps({"email": "a@b.example"}).encode()])
def test_a_bounce_report_that_is_no_email_is_refused(api, body):
    response = api.post("/api/v1/bounces", data=body, content_type="message/rfc822")
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "body"


@pytest.mark.parametrize("raw", ['{"email": "a@b.example", "budget": NaN}', '{"email": "a@b.example", "budget": 1e999}',
                                 '{"email": "a@b.example", "budget": ' + "9" * 200 + "}"])
def test_numbers_json_cannot_carry_are_refused(api, raw):
    response = api.post("/api/v1/contacts", data=raw, content_type="application/json")
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "body"


def test_a_nul_in_the_query_or_a_form_is_refused_before_any_page_reads_it(client, api):
    assert api.get("/api/v1/handoffs", query_string={"status": "open\x00"}).status_code == 400
    assert client.post("/f/demo", data={"email": "a@b.example", "company": "A\x00"}).status_code == 400
    assert client.get("/login", query_string={"next": "/\x00"}).status_code == 400
