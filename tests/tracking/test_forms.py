"""Forms on the marketer's site: contact upserted, event recorded, autoresponder fired, spam kept out."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.engagement.site import set_site_domains
from app.models import Contact
from tests.loop_steps import parse
from workers.scheduler import tick


def test_the_embeddable_form_page_has_the_fields_and_a_hidden_honeypot(client):
    """GET /f/<form> is a plain HTML form posting back to Nurture, with a field people never see."""
    page = client.get("/f/contact-sales").data.decode()
    assert 'action="/f/contact-sales"' in page and 'name="email"' in page
    assert 'name="website"' in page and 'class="honeypot"' in page  # moved off-screen by the stylesheet
    assert client.get("/f/Bad_Slug!").status_code == 404


def test_an_html_sign_up_creates_the_contact_and_sends_the_welcome_autoresponder(synced, client, services, session,
                                                                                  drain, outbox, events):
    """A posted sign-up form upserts the contact with its consent, records sign_up and sends the welcome email."""
    response = client.post("/f/newsletter", data={"email": "Dana.Lee@Example.org", "first_name": "Dana",
                                                  "company": "Example Org", "event": "sign_up",
                                                  "consent_email": "yes", "interest": "servo drives",
                                                  "page": "https://www.brightline.example/signup"})
    assert response.status_code == 200 and b"Thank you" in response.data
    contact = session.scalar(select(Contact).where(Contact.email == "dana.lee@example.org"))
    assert (contact.first_name, contact.source) == ("Dana", "form:newsletter")
    assert (contact.email_consent_basis, contact.email_consent_source) == ("consent", "form:newsletter")
    [event] = events("sign_up")
    assert event.properties == {"form": "newsletter", "answers": {"interest": "servo drives"}}
    assert event.url == "https://www.brightline.example/signup"
    tick(services)
    drain()
    assert [parse(m.raw)["To"] for m in outbox()] == ["dana.lee@example.org"]


def test_the_json_form_answers_with_cors_and_names_a_bad_field(client, synced, session):
    """POST /f/<form>.json is callable from the marketer's pages; errors are 422 with the field."""
    ok = client.post("/f/demo.json", json={"email": "sam@acme.example", "event": "demo_request"},
                     headers={"Origin": "https://www.brightline.example"})
    assert ok.status_code == 201 and ok.get_json() == {"status": "ok"}
    assert ok.headers["Access-Control-Allow-Origin"] == "*"
    again = client.post("/f/demo.json", json={"email": "sam@acme.example", "first_name": "Sam"})
    assert again.status_code == 200
    for body, field in (({"first_name": "x"}, "email"), ({"email": "not-an-address"}, "email"),
                        ({"email": "a@b.example", "event": "email_open"}, "event"),
                        ({"email": "a@b.example", "company_size": "lots"}, "company_size")):
        bad = client.post("/f/demo.json", json=body)
        assert bad.status_code == 422 and bad.get_json()["error"]["field"] == field
    assert client.post("/f/demo.json", data="nope", content_type="text/plain").status_code == 422
    huge = client.post("/f/demo.json", data=b'{"email": "' + b"a" * 3_000_000 + b'"}', content_type="application/json")
    assert huge.status_code == 413 and huge.get_json()["error"]["field"] == "body"
    preflight = client.open("/f/demo.json", method="OPTIONS")
    assert preflight.status_code == 204 and "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_a_filled_honeypot_is_thanked_and_records_nothing(client, session, events):
    """Bots fill every field; such a submission looks accepted but adds no contact and no event."""
    response = client.post("/f/newsletter", data={"email": "bot@spam.example", "website": "http://spam.example"})
    assert response.status_code == 200 and b"Thank you" in response.data
    assert session.scalar(select(Contact)) is None and events() == []


def test_submissions_are_rate_limited_per_address(client, session):
    """The eleventh submission from one address within a minute is refused with 429."""
    codes = [client.post("/f/newsletter.json", json={"email": f"p{i}@example.org"},
                         environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code for i in range(11)]
    assert codes[:10] == [201] * 10 and codes[10] == 429
    other = client.post("/f/newsletter.json", json={"email": "q@example.org"}, environ_base={"REMOTE_ADDR": "198.51.100.8"})
    assert other.status_code == 201


def test_a_form_redirects_only_to_the_marketers_own_site(client, session, clock):
    """`redirect` is followed only to a site domain; any other target gets the thank-you page (no open redirect)."""
    set_site_domains(session, ["brightline.example"], now=clock.now())
    session.commit()
    ours = client.post("/f/newsletter", data={"email": "a@example.org", "redirect": "https://www.brightline.example/thanks"})
    assert ours.status_code == 303 and ours.headers["Location"] == "https://www.brightline.example/thanks"
    theirs = client.post("/f/newsletter", data={"email": "b@example.org", "redirect": "https://evil.example/"})
    assert theirs.status_code == 200 and "Location" not in theirs.headers


def test_a_bad_html_submission_shows_the_form_again_with_the_problem(client):
    """A missing email re-renders the form with a message, never a 500."""
    response = client.post("/f/newsletter", data={"first_name": "No Email"})
    assert response.status_code == 422 and b"Email: is required" in response.data
    assert b'value="No Email"' in response.data


def test_the_server_side_form_api_creates_the_contact_and_fires_the_autoresponder(synced, api, client, services,
                                                                                  session, drain, outbox, events):
    """POST /api/v1/forms/<form> with the API key: contact upserted, sign_up recorded, welcome email sent;
    the marketer's server is not held to the per-address limit of the public endpoint."""
    body = {"email": "Rui.Costa@Example.org", "first_name": "Rui", "event": "sign_up", "consent_email": True,
            "interest": "linear stages", "page": "https://www.brightline.example/signup"}
    created = api.post("/api/v1/forms/newsletter", json=body)
    assert created.status_code == 201 and created.get_json()["created"] is True
    contact = session.get(Contact, created.get_json()["contact_id"])
    assert (contact.email, contact.source, contact.email_consent_basis) == ("rui.costa@example.org",
                                                                           "form:newsletter", "consent")
    [event] = events("sign_up")
    assert event.id == created.get_json()["event_id"] and event.properties["answers"] == {"interest": "linear stages"}
    tick(services)
    drain()
    assert [parse(m.raw)["To"] for m in outbox()] == ["rui.costa@example.org"]
    codes = {api.post("/api/v1/forms/newsletter", json={"email": f"s{i}@example.org"}).status_code for i in range(12)}
    assert codes == {201}


@pytest.mark.parametrize("path,body,status,field", [
    ("/api/v1/forms/newsletter", {"first_name": "x"}, 422, "email"),
    ("/api/v1/forms/newsletter", {"email": "a@b.example", "event": "email_click"}, 422, "event"),
    ("/api/v1/forms/Bad_Slug!", {"email": "a@b.example"}, 422, "form"),
    ("/api/v1/forms/newsletter", ["not", "an", "object"], 422, "body"),
])
def test_the_server_side_form_api_names_the_bad_field(api, path, body, status, field):
    """Bad submissions are a 422 naming the field, never a 500."""
    response = api.post(path, json=body)
    assert response.status_code == status and response.get_json()["error"]["field"] == field


def test_the_server_side_form_api_needs_the_key(client):
    """Without the API key the call is refused with a JSON error."""
    response = client.post("/api/v1/forms/newsletter", json={"email": "a@b.example"})
    assert response.status_code == 401 and "error" in response.get_json()


def test_the_limit_slides_across_the_minute_boundary():
    """Ten submissions just before a minute turns and one just after is still eleven in 60 seconds: refused.
    A minute after the burst the visitor may submit again."""
    import fakeredis

    from app.domain.engagement.forms import allowed

    redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    at = lambda t: (lambda: t)  # noqa: E731
    assert [allowed(redis, "198.51.100.7", clock=at(59.0 + i / 100)) for i in range(10)] == [True] * 10
    assert allowed(redis, "198.51.100.7", clock=at(61.0)) is False
    assert allowed(redis, "198.51.100.9", clock=at(61.0)) is True
    assert allowed(redis, "198.51.100.7", clock=at(121.5)) is True
