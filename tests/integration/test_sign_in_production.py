"""Sign-in in production: two web processes (two apps) on PostgreSQL and Redis share the failure
counts and see a session ended on the other one."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app import create_app
from app.config import load_config
from app.db import upgrade
from app.domain.contacts.users import create_user

PASSWORD = "correct-horse"


@pytest.fixture
def two_webs(prod_env, prod_clock):
    """Two apps with the production settings, like two gunicorn workers; schema through the migrations."""
    apps = [create_app(load_config(prod_env).with_overrides(testing=True), clock=prod_clock) for _ in range(2)]
    upgrade(apps[0].extensions["nurture"].engine)
    for app in apps:
        app.config["WTF_CSRF_ENABLED"] = False
    services = apps[0].extensions["nurture"]
    with services.sessions() as session:
        create_user(session, "rep@nurture.test", "sales", now=prod_clock.now(), password=PASSWORD)
        session.commit()
    yield apps
    for app in apps:
        app.extensions["nurture"].engine.dispose()


def sign_in(client, password=PASSWORD):
    return client.post("/login", data={"email": "rep@nurture.test", "password": password}).status_code


def test_failures_on_either_web_process_count_toward_one_block(two_webs, prod_clock):
    first, second = (app.test_client() for app in two_webs)
    for n in range(5):
        assert sign_in(first if n % 2 else second, "wrong-password") == 401
    assert sign_in(first) == 429 and sign_in(second) == 429
    prod_clock.advance(timedelta(minutes=15, seconds=1))
    assert sign_in(second) == 302


def test_a_session_ended_on_one_web_process_is_refused_by_the_other(two_webs):
    first, second = (app.test_client() for app in two_webs)
    assert sign_in(first) == 302
    second.set_cookie("session", first.get_cookie("session").value)
    assert second.get("/contacts").status_code == 200
    first.post("/logout")
    assert second.get("/contacts").status_code == 302
