"""Webhook fixtures: the qualification ones (people, leads), a receiver on loopback, endpoints made
as an admin would (loopback is private, so they allow private addresses), and an admin's API key."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.contacts.webhook_endpoints import create_endpoint
from app.models import WebhookDelivery
from tests.qualification.conftest import contact, event, lead, login, people, rep  # noqa: F401  (fixtures)
from tests.qualification.webhook_server import Receiver

SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture
def receiver():
    """receiver(answers=[…]): a started CRM stand-in, stopped after the test."""
    started = []

    def make(answers=None):
        server = Receiver(answers).__enter__()
        started.append(server)
        return server
    yield make
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def endpoint(synced, clock):
    """endpoint(url, events=[...], allow_private=True, name=…): an active endpoint signing with SECRET."""
    def make(url, events=("contact.created",), *, allow_private=True, name=None):
        made, _ = create_endpoint(synced, {"name": name or f"receiver-{url.rsplit(':', 1)[-1]}", "url": url,
                                           "events": list(events), "allow_private": allow_private, "secret": SECRET},
                                  actor="test", now=clock.now())
        synced.commit()
        return made
    return make


@pytest.fixture
def owed(synced):
    """The deliveries owed so far, oldest first."""
    def read(endpoint_id=None):
        synced.expire_all()
        query = select(WebhookDelivery).order_by(WebhookDelivery.id)
        if endpoint_id is not None:
            query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
        return synced.scalars(query).all()
    return read


@pytest.fixture
def admin_api(client, session, clock):
    """The test client with an admin-scoped API key."""
    from app.domain.contacts.api_keys import create_api_key

    key = create_api_key(session, "crm-admin", clock.now(), scopes=["admin"])
    session.commit()

    class Api:
        def call(self, method, path, json=None):
            return client.open(path, method=method, json=json, headers={"Authorization": f"Bearer {key}"})

        def get(self, path):
            return self.call("GET", path)

        def post(self, path, json=None):
            return self.call("POST", path, json)

        def patch(self, path, json=None):
            return self.call("PATCH", path, json)

        def delete(self, path):
            return self.call("DELETE", path)
    return Api()
