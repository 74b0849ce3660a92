"""Site tracking: the contact token on clicks to the marketer's site, the snippet, beacons and the API."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from app.domain.engagement.site import set_site_domains, with_contact_token
from tests.loop_steps import BROWSER_UA, parts, tracking_paths


@pytest.fixture
def site(session, clock):
    set_site_domains(session, ["brightline.example"], now=clock.now())
    session.commit()


def _token_from_click(client, path) -> str:
    location = client.get(path, headers={"User-Agent": BROWSER_UA}).headers["Location"]
    return parse_qs(urlsplit(location).query)["nt"][0]


def _beacon(token, *views, visitor="visitor0001"):
    return json.dumps({"t": token, "v": visitor, "views": list(views)})


def test_a_click_to_the_marketers_site_carries_a_signed_contact_token(sent, client, site, services, session):
    """The redirect adds ?nt=<token>; the token names the contact's random public id, never the address."""
    from app.models import Contact

    _, clicks = tracking_paths(parts(sent[0])[0])
    token = _token_from_click(client, clicks[0])
    contact = session.get(Contact, sent[1])
    assert services.tokens.verify("contact", token) == (contact.public_id, None)
    assert "priya" not in token.lower() and len(contact.public_id) == 32


def test_links_to_other_sites_never_carry_the_token(sent, client, services):
    """Without the destination among the site domains, the redirect is the link as written."""
    _, clicks = tracking_paths(parts(sent[0])[0])
    location = client.get(clicks[0], headers={"User-Agent": BROWSER_UA}).headers["Location"]
    assert "nt=" not in location


def test_with_contact_token_keeps_the_query_and_fragment_and_replaces_an_old_token():
    """The destination keeps its own parameters and anchor; a stale nt is replaced."""
    url = with_contact_token("https://www.brightline.example/p?a=1&nt=old#top", "NEW")
    assert url == "https://www.brightline.example/p?a=1&nt=NEW#top"


def test_the_snippet_is_served_small_cacheable_and_cross_origin(client):
    """GET /t/s/nurture.js is JavaScript any site may load, well under 10 kB."""
    response = client.get("/t/s/nurture.js")
    assert response.status_code == 200 and response.mimetype == "application/javascript"
    assert len(response.data) < 10_000 and b"sendBeacon" in response.data
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in response.headers["Cache-Control"]


def test_beacons_record_page_views_with_title_time_and_return_visits(sent, client, site, api, events):
    """A batched beacon becomes page views with title, seconds on page and visit number; a resend adds nothing."""
    _, clicks = tracking_paths(parts(sent[0])[0])
    token = _token_from_click(client, clicks[0])
    body = _beacon(token, {"id": "view00000001", "u": "https://www.brightline.example/pricing", "ti": "Pricing",
                           "s": 42.5, "n": 1},
                   {"id": "view00000002", "u": "https://www.brightline.example/pricing?plan=pro", "ti": "Pro",
                    "s": 12, "n": 2})
    for _ in range(2):
        response = client.post("/t/s/collect", data=body, content_type="text/plain;charset=UTF-8",
                               headers={"User-Agent": BROWSER_UA, "Origin": "https://www.brightline.example"})
        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    first, second = events("page_view")
    assert (first.url, first.source) == ("https://www.brightline.example/pricing", "site")
    assert first.properties["title"] == "Pricing" and first.properties["seconds"] == 42.5
    assert first.properties["return_visit"] is False and second.properties["return_visit"] is True
    assert api.get(f"/api/v1/contacts/{sent[1]}").get_json()["score"] > 15  # pricing visits score


def test_cors_preflight_is_answered(client):
    """A fetch() with a JSON content type is allowed from any site."""
    response = client.open("/t/s/collect", method="OPTIONS", headers={"Origin": "https://a.example",
                                                                        "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204 and "POST" in response.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"t": "forged", "views": []}', b"x" * 70_000,
                                  b'{"t": 5, "views": [1, 2]}'])
def test_bad_beacons_are_answered_and_record_nothing(client, events, body):
    """Garbage, forged tokens and oversized bodies get the same 204 and no event."""
    assert client.post("/t/s/collect", data=body, content_type="text/plain").status_code == 204
    assert events() == []


def test_views_of_a_forged_token_or_bad_url_are_dropped(sent, client, site, services, events):
    """Only http(s) URLs from a validly signed token become page views."""
    _, clicks = tracking_paths(parts(sent[0])[0])
    token = _token_from_click(client, clicks[0])
    client.post("/t/s/collect", data=_beacon(token, {"id": "view00000009", "u": "javascript:alert(1)"}),
                content_type="text/plain")
    other = services.tokens.sign("open", services.tokens.verify("contact", token)[0])  # right id, wrong purpose
    client.post("/t/s/collect", data=_beacon(other, {"id": "view00000010", "u": "https://www.brightline.example/"}),
                content_type="text/plain")
    assert events("page_view") == []


def test_the_server_side_page_view_api_queues_views_by_email_or_token(sent, client, site, api, events):
    """POST /api/v1/pageviews takes email, contact_id or token, answers 202, and an id makes it idempotent."""
    _, clicks = tracking_paths(parts(sent[0])[0])
    token = _token_from_click(client, clicks[0])
    views = [{"email": "PRIYA.SHAH@acme-automation.example", "url": "https://www.brightline.example/docs",
              "title": "Docs", "seconds": 30, "id": "srv00000001"},
             {"token": token, "url": "https://www.brightline.example/blog", "id": "srv00000002"},
             {"email": "nobody@unknown.example", "url": "https://www.brightline.example/"}]
    for _ in range(2):
        response = api.post("/api/v1/pageviews", json={"views": views})
        assert response.status_code == 202 and response.get_json()["queued"] == 2
    assert sorted(e.url for e in events("page_view")) == ["https://www.brightline.example/blog",
                                                          "https://www.brightline.example/docs"]


@pytest.mark.parametrize("views,field", [
    ("nope", "views"), ([], "views"), ([{"url": "https://a.example/"}], "views[0].email"),
    ([{"email": "a@b.example", "url": "ftp://x"}], "views[0].url"),
    ([{"token": "forged", "url": "https://a.example/"}], "views[0].token"),
    ([{"email": "a@b.example", "url": "https://a.example/", "seconds": -1}], "views[0].seconds"),
    ([{"email": "a@b.example", "url": "https://a.example/", "id": "short"}], "views[0].id"),
    ([{"contact_id": 10**30, "url": "https://a.example/"}], "views[0].contact_id"),
    ([{"contact_id": True, "url": "https://a.example/"}], "views[0].contact_id"),
])
def test_the_page_view_api_names_the_bad_field(api, views, field):
    """Bad input is a 422 naming the field, never a 500."""
    response = api.post("/api/v1/pageviews", json={"views": views})
    assert response.status_code == 422 and response.get_json()["error"]["field"] == field
