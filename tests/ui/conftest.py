"""UI fixtures: people of every role, signing in through the real form, and a lead handed to a rep."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from app.models import Handoff
from workers.scheduler import tick

PASSWORD = "correct-horse"
ENGINEER = {"email": "priya.shah@acme-automation.example", "first_name": "Priya", "last_name": "Shah",
            "company": "Acme Automation", "title": "Senior Controls Engineer", "industry": "manufacturing",
            "company_size": 850, "budget": 60000, "timeline": "3 months", "country": "US",
            "timezone": "America/Chicago", "source": "webinar", "fields": {"plc": "Siemens S7"}}


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def text_of(response) -> str:
    """The page with entities decoded, so assertions read like what a person sees."""
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def no_csrf(app):
    """Client tests post forms without tokens; test_views proves a tokenless POST is refused when it is on."""
    app.config["WTF_CSRF_ENABLED"] = False
    yield
    app.config["WTF_CSRF_ENABLED"] = True


@pytest.fixture
def people(make_user):
    """One user per role, created before any lead, so handoffs have a rep to go to."""
    return {
        "admin": make_user("admin@nurture.test", "admin", name="Avery Admin"),
        "marketer": make_user("marketer@nurture.test", "marketer", name="Morgan Marketer"),
        "manager": make_user("manager@nurture.test", "sales_manager", name="Sam Manager"),
        "rep": make_user("alex.rep@nurture.test", "sales", name="Alex Rep"),
    }


@pytest.fixture
def login(client, no_csrf):
    def sign_in(user_or_email, password=PASSWORD):
        email = getattr(user_or_email, "email", user_or_email)
        client.post("/logout")
        response = client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response
    return sign_in


@pytest.fixture
def handoff(synced, people, api, services, drain, session):
    """Priya asks for a demo: a grade A contact is fast-tracked to the only rep."""
    assert api.post("/api/v1/contacts", json=ENGINEER).status_code == 201
    assert api.post("/api/v1/events", json={"email": ENGINEER["email"], "type": "page_view",
                                            "url": "https://www.brightline.example/pricing"}).status_code == 202
    assert api.post("/api/v1/events", json={"email": ENGINEER["email"], "type": "demo_request"}).status_code == 202
    tick(services)
    drain()
    session.expire_all()
    found = session.scalar(select(Handoff))
    assert found is not None and found.rep_id == people["rep"].id
    return found
