"""The web UI through the Flask test client: sign-in, roles, pages, forms and friendly errors."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.models import Note

from .conftest import ENGINEER, PASSWORD, csrf_token, text_of


# Signing in ------------------------------------------------------------------------------------

def test_login_with_the_right_password_goes_to_the_dashboard(client, people, no_csrf):
    """A marketer who signs in lands on the dashboard and sees their name and role."""
    response = client.post("/login", data={"email": "Marketer@Nurture.test ", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    page = text_of(client.get("/dashboard"))
    assert "Morgan Marketer" in page and "Marketer" in page and "Sign out" in page


def test_login_with_a_wrong_password_is_refused(client, people, no_csrf):
    """A wrong password answers 401 with a message, and nothing behind the login opens."""
    response = client.post("/login", data={"email": "marketer@nurture.test", "password": "nope"})
    assert response.status_code == 401
    assert "Wrong email or password." in text_of(response)
    assert client.get("/contacts").status_code == 302


def test_login_follows_next_only_to_our_own_pages(client, people, no_csrf):
    """The handoff link in a rep's email survives sign-in; an outside address does not."""
    response = client.post("/login", data={"email": "alex.rep@nurture.test", "password": PASSWORD,
                                            "next": "/handoffs/7"})
    assert response.headers["Location"].endswith("/handoffs/7")
    client.post("/logout")
    response = client.post("/login", data={"email": "alex.rep@nurture.test", "password": PASSWORD,
                                            "next": "https://evil.example/x"})
    assert response.headers["Location"].endswith("/dashboard")


def test_anonymous_visitors_are_sent_to_sign_in_with_next(client):
    """Opening a lead report without a session redirects to the login with the way back."""
    response = client.get("/handoffs/3")
    assert response.status_code == 302
    assert "/login?next=%2Fhandoffs%2F3" in response.headers["Location"]


def test_a_post_without_csrf_token_is_refused(client, people):
    """With CSRF on (the default), a form posted without its token answers 400 with a friendly page."""
    response = client.post("/login", data={"email": "marketer@nurture.test", "password": PASSWORD})
    assert response.status_code == 400
    assert "did not make sense" in text_of(response)
    assert "Traceback" not in text_of(response)


def test_login_and_logout_with_the_forms_csrf_token(client, people):
    """The real form flow: the token from the page signs in, and signing out is a POST with a token too."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": "admin@nurture.test", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    page = client.get("/dashboard").get_data(as_text=True)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert client.get("/dashboard").status_code == 302


# Roles -----------------------------------------------------------------------------------------

PAGES = ["/dashboard", "/contacts", "/personas", "/campaigns", "/outbox", "/handoffs", "/agreement"]
ALLOWED = {
    "admin": set(PAGES),
    "marketer": set(PAGES),
    "rep": {"/dashboard", "/contacts", "/handoffs"},
    "manager": {"/contacts", "/handoffs", "/agreement"},
}
REVIEWS = "/reviews"  # every role's menu; a rep lands on their own review from it


@pytest.mark.parametrize("who", sorted(ALLOWED))
def test_each_role_sees_its_pages_and_is_refused_the_rest(client, people, login, who):
    """Every role opens exactly its areas; the others answer a friendly 403 page."""
    login(people[who])
    for path in PAGES:
        response = client.get(path)
        if path in ALLOWED[who]:
            assert response.status_code == 200, (who, path)
        else:
            assert response.status_code == 403, (who, path)
            assert "You don't have access to this page" in text_of(response)


@pytest.mark.parametrize("who,home", [("marketer", "/dashboard"), ("rep", "/dashboard"), ("manager", "/handoffs")])
def test_home_and_navigation_follow_the_role(client, people, login, who, home):
    """The start page and the menu show only what the role may open."""
    login(people[who])
    assert client.get("/").headers["Location"].endswith(home)
    nav = re.search(r'<nav class="mainnav".*?</nav>', client.get(home).get_data(as_text=True), re.S).group(0)
    shown = set(re.findall(r'href="([^"]+)"', nav))
    assert shown == ALLOWED[who] | {REVIEWS}
    assert client.get(REVIEWS, follow_redirects=True).status_code == 200


# Dashboard and contacts --------------------------------------------------------------------------

def test_dashboard_shows_the_funnel_messages_handoffs_and_events(client, people, login, handoff):
    """After a handoff the funnel counts it, and recent events are marked human or machine."""
    login(people["marketer"])
    page = text_of(client.get("/dashboard"))
    assert re.search(r"Handed off</span>.*?funnel-count\">1<", page, re.S)
    assert "Recent handoffs" in page and "Priya Shah" in page
    assert "demo request" in page and "badge-human" in page
    assert "Messages by status" in page


def test_contact_detail_explains_score_and_fit(client, people, login, synced, api):
    """Every point of the score shows with its rule, and each fit criterion met or missed with its value."""
    api.post("/api/v1/contacts", json=ENGINEER)
    api.post("/api/v1/events", json={"email": ENGINEER["email"], "type": "page_view",
                                     "url": "https://www.brightline.example/pricing"})
    login(people["rep"])
    contact_id = api.get("/api/v1/contacts/1").get_json()["id"]
    page = text_of(client.get(f"/contacts/{contact_id}"))
    assert "Pricing page visit" in page and "+25" in page
    assert "Target industry" in page and "manufacturing" in page
    assert "Siemens S7" in page                       # custom field
    assert "Acme Automation" in page and "850" in page and "$60,000" in page and "America/Chicago" in page  # profile
    assert "Engineer nurture" in page                 # enrollment
    assert "enrolled in Engineer nurture" in page     # stage history cause
    assert "Viewed https://www.brightline.example/pricing" in page  # timeline


def test_contacts_search_filter_and_paging(client, people, login, synced, api):
    """Search by company, filter by stage, and bad filter values answer 400, never 500."""
    api.post("/api/v1/contacts", json=ENGINEER)
    api.post("/api/v1/contacts", json={"email": "tom@fahrwerk.example", "company": "Fahrwerk GmbH"})
    login(people["marketer"])
    page = text_of(client.get("/contacts?q=fahrwerk"))
    assert "tom@fahrwerk.example" in page and "Priya" not in page
    assert "Priya" in text_of(client.get("/contacts?q=priya+shah"))
    assert "Priya" in text_of(client.get("/contacts?stage=nurturing"))
    assert "Priya" not in text_of(client.get("/contacts?stage=won"))
    assert client.get("/contacts?stage=bogus").status_code == 400
    assert client.get("/contacts?page=abc").status_code == 400
    assert client.get("/contacts?page=0").status_code == 400
    assert client.get("/contacts?persona=x").status_code == 400
    assert client.get("/contacts?page=²").status_code == 400
    assert client.get("/contacts?page=" + "9" * 5000).status_code == 400
    assert client.get("/contacts?page=99").status_code == 200


def test_notes_are_added_and_empty_ones_refused(client, people, login, synced, api, session):
    """A rep logs a conversation; an empty note is refused with the form error and a 400."""
    contact_id = api.post("/api/v1/contacts", json=ENGINEER).get_json()["id"]
    login(people["rep"])
    response = client.post(f"/contacts/{contact_id}/notes", data={"kind": "conversation", "body": "Called: wants a quote."})
    assert response.status_code == 302
    assert "Called: wants a quote." in text_of(client.get(f"/contacts/{contact_id}"))
    assert session.scalar(select(Note.user_id)) == people["rep"].id
    refused = client.post(f"/contacts/{contact_id}/notes", data={"kind": "note", "body": "  "})
    assert refused.status_code == 400 and "Write something" in text_of(refused)
    assert client.post(f"/contacts/{contact_id}/notes", data={"kind": "gossip", "body": "x"}).status_code == 400


# Errors -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/contacts/999", "/campaigns/999", "/outbox/999", "/handoffs/999",
                                  "/campaigns/999/steps/1/preview", "/no-such-page", "/contacts/abc",
                                  "/contacts/99999999999999999999", "/handoffs/0"])
def test_unknown_ids_and_pages_are_a_friendly_404(client, people, login, path):
    """Unknown ids answer the 404 page with the layout, never a traceback."""
    login(people["admin"])
    response = client.get(path)
    assert response.status_code == 404
    page = text_of(response)
    assert "Page not found" in page and "Traceback" not in page and "mainnav" in page


def test_api_paths_get_json_errors(client):
    """Under /api/ the same errors keep the API's JSON shape."""
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert "message" in response.get_json()["error"]


def test_an_unexpected_error_is_a_friendly_500(app, client):
    """A bug shows the apology page to people and the JSON shape under /api/, never a traceback."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def boom():
        raise RuntimeError("kaboom")

    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/api/v1/boom", "api_boom", boom)
    page = client.get("/boom")
    assert page.status_code == 500
    assert "Something went wrong on our side" in text_of(page) and "kaboom" not in text_of(page)
    api = client.get("/api/v1/boom")
    assert api.status_code == 500 and api.get_json()["error"]["code"] == "internal_server_error"
    assert "kaboom" not in api.get_data(as_text=True)


def test_public_pages_use_the_public_layout(client):
    """An unsubscribe link that was tampered with shows a plain, friendly page without the app's menu."""
    response = client.get("/u/not-a-token")
    assert response.status_code == 404
    page = text_of(response)
    assert "This link is not valid" in page and "public-card" in page and "mainnav" not in page
