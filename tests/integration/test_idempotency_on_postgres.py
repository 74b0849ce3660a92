"""Idempotency keys on PostgreSQL, where requests really run at once: several POSTs racing with one key
create one contact; each of the others is a replay of that answer or a 409 to retry, never a second
contact and never a 5xx."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from app.domain.contacts.api_keys import issue_api_key
from app.models import Contact, IdempotencyKey

pytestmark = pytest.mark.integration


def test_racing_posts_with_one_key_create_one_contact(prod_app, prod_clock):
    services = prod_app.extensions["nurture"]
    with services.sessions() as session:
        _, key = issue_api_key(session, "crm", prod_clock.now(), ["contacts:write"])
        session.commit()
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "race-1"}
    start, answers = threading.Barrier(4), []

    def post():
        client = prod_app.test_client()
        start.wait()
        answers.append(client.post("/api/v1/contacts", json={"email": "race@example.org"}, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, statuses
    created = [a for a in answers if a.status_code == 201]
    assert sum("Idempotent-Replayed" not in a.headers for a in created) == 1
    assert all(a.get_data() == created[0].get_data() for a in created)
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 1
        assert session.scalar(select(IdempotencyKey.status)) == 201
    replay = prod_app.test_client().post("/api/v1/contacts", json={"email": "race@example.org"}, headers=headers)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
