"""Qualification fixtures: the shipped agreement, reps with territories, leads that qualify on demand."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.domain.engagement.arrivals import upsert_contact
from app.domain.engagement.events import record_event
from app.models import Contact, Handoff

SITE = "https://www.brightline.example"
ENGINEER = {"first_name": "Priya", "last_name": "Shah", "company": "Acme Automation",
            "title": "Senior Controls Engineer", "industry": "manufacturing", "company_size": 850, "budget": 60000,
            "timeline": "3 months", "country": "US", "timezone": "America/Chicago", "source": "webinar"}


@pytest.fixture
def rep(make_user, session):
    """make a sales rep: rep("alex", territory={...}, weekly_cap=2)"""
    def make(name, role="sales", territory=None, weekly_cap=None, manager=None):
        user = make_user(f"{name}@nurture.test", role, name=name.capitalize(), territory=territory)
        user.weekly_cap, user.manager_id = weekly_cap, manager.id if manager else None
        session.commit()
        return user
    return make


@pytest.fixture
def contact(synced, clock):
    """contact("priya@acme.example", **overrides): an A-grade engineer unless told otherwise."""
    def make(email, **fields):
        found, _ = upsert_contact(synced, {**ENGINEER, "email": email, **fields}, now=clock.now(), actor="test")
        synced.commit()
        return found
    return make


@pytest.fixture
def event(synced, clock):
    """event(contact, "page_view", url=…, ago=timedelta(…)): a human event, reacted to like the API's."""
    def record(contact, type, *, url=None, ago=timedelta(0), **kw):
        found = record_event(synced, contact, type, now=clock.now(), occurred_at=clock.now() - ago, url=url, **kw)
        synced.commit()
        return found
    return record


@pytest.fixture
def lead(contact, event, synced):
    """lead(email, **fields): a contact that asks for a demo, so it is fast-tracked to sales."""
    def make(email, **fields):
        found = contact(email, **fields)
        event(found, "demo_request")
        synced.expire_all()
        return synced.scalar(select(Handoff).where(Handoff.contact_id == found.id).order_by(Handoff.id.desc()))
    return make


def reload(session, obj):
    session.expire_all()
    return session.get(type(obj), obj.id)


__all__ = ["SITE", "ENGINEER", "reload", "Contact"]


PASSWORD = "correct-horse"


@pytest.fixture
def people(rep, make_user):
    """One user per role; the rep is the only one taking leads."""
    boss = rep("morgan", role="sales_manager")
    return {"admin": make_user("admin@nurture.test", "admin", name="Avery Admin"),
            "marketer": make_user("marketer@nurture.test", "marketer", name="Mo Marketer"),
            "manager": boss, "rep": rep("alex", manager=boss)}


@pytest.fixture
def login(client, app):
    """Sign in through the real form (CSRF off for the test client; the UI tests prove it is on)."""
    app.config["WTF_CSRF_ENABLED"] = False

    def sign_in(user):
        client.post("/logout")
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
    yield sign_in
    app.config["WTF_CSRF_ENABLED"] = True


def page(response) -> str:
    import html

    return html.unescape(response.get_data(as_text=True))


def words(response) -> str:
    """The page's text without tags, whitespace collapsed: what a reader sees."""
    import re

    return " ".join(re.sub(r"<[^>]+>", " ", page(response)).split())
