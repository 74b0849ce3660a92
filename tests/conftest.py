"""Fixtures: a fresh app and database per test, a movable clock, factories, the services gate."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from app import create_app
from app.clock import MovableClock
from app.config import load_config
from app.models import Base

ROOT = Path(__file__).resolve().parent.parent


def require(reason: str) -> None:
    """Skip loudly when a real server is missing; under CI (NURTURE_REQUIRE_SERVICES=1) fail instead."""
    if os.environ.get("NURTURE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(f"SERVICE UNAVAILABLE, integration test skipped: {reason}")


CHROMIUM = "/usr/bin/chromium"  # Debian's package, driven by playwright (never `playwright install`)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def chromium(*extra_args: str):
    """A headless Chromium for browser tests; missing Chromium or playwright skips loudly (fails under CI)."""
    if not os.path.exists(CHROMIUM):
        require(f"chromium not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require("the playwright Python package is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def clock():
    return MovableClock()


@pytest.fixture
def config(tmp_path):
    return load_config({"NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_BASE_URL": "https://nurture.test",
                        "NURTURE_SECRET_KEY": "test-secret-0123456789abcdef0123456789abcdef"}).with_overrides(testing=True)


@pytest.fixture
def app(config, clock):
    app = create_app(config, clock=clock)
    Base.metadata.create_all(app.extensions["nurture"].engine)
    yield app
    app.extensions["nurture"].engine.dispose()


@pytest.fixture
def services(app):
    return app.extensions["nurture"]


@pytest.fixture
def session(services):
    with services.sessions() as session:
        yield session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def synced(services, session, clock):
    """The shipped starter library (campaigns/) loaded into the database."""
    from app.domain.campaigns.sync import sync_directory

    sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                   postal_address=services.config.postal_address, now=clock.now())
    session.commit()
    return session


@pytest.fixture
def api_key(session, clock):
    from app.domain.contacts.api_keys import create_api_key

    key = create_api_key(session, "tests", clock.now(), scopes=["admin"])
    session.commit()
    return key


@pytest.fixture
def key_for(session, clock):
    """key_for("sales:act", name="crm") → (row, headers) for a new key with those scopes."""
    from app.domain.contacts.api_keys import issue_api_key

    def make(*scopes, name="crm"):
        row, key = issue_api_key(session, name, clock.now(), scopes)
        session.commit()
        return row, {"Authorization": f"Bearer {key}"}
    return make


@pytest.fixture
def api(client, api_key):
    """The test client with the API key header set."""
    class Api:
        def post(self, path, json=None, **kw):
            return client.post(path, json=json, headers={"Authorization": f"Bearer {api_key}"}, **kw)

        def get(self, path, **kw):
            return client.get(path, headers={"Authorization": f"Bearer {api_key}"}, **kw)

    return Api()


@pytest.fixture
def make_user(session, clock):
    from app.domain.contacts.users import create_user

    def make(email, role="sales", password="correct-horse", **kw):
        user, _ = create_user(session, email, role, now=clock.now(), password=password, **kw)
        session.commit()
        return user
    return make


@pytest.fixture
def drain(services):
    """Run every queued RQ job now, in-process (the embedded queue)."""
    from workers.embedded import drain as run_all

    return lambda: run_all(services)


@pytest.fixture
def outbox(session):
    from app.models import OutboxEmail
    from sqlalchemy import select

    def read():
        session.expire_all()
        return session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
    return read
