"""The whole loop on the production parts: PostgreSQL, Redis, real RQ worker processes, SMTP."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.domain.campaigns.sync import sync_directory
from app.models import Message
from tests.conftest import ROOT
from tests.loop_steps import run_whole_loop

from .conftest import wait_for

pytestmark = pytest.mark.integration


def test_contact_to_handoff_on_postgres_redis_and_smtp(prod_app, prod_clock, smtp_sink, worker_processes):
    """Same loop as embedded, but jobs cross Redis to a separate worker process that speaks SMTP."""
    services = prod_app.extensions["nurture"]
    [worker] = worker_processes(1)
    with services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=prod_clock.now())
        session.commit()

        from app.domain.contacts.api_keys import create_api_key
        from app.domain.contacts.users import create_user

        key = create_api_key(session, "it", prod_clock.now(), scopes=["admin"])
        session.commit()
        client = prod_app.test_client()
        headers = {"Authorization": f"Bearer {key}"}

        class Api:
            def post(self, path, json=None):
                return client.post(path, json=json, headers=headers)

            def get(self, path):
                return client.get(path, headers=headers)

        def make_user(email):
            user, _ = create_user(session, email, "sales", now=prod_clock.now(), password="integration-pw")
            session.commit()
            return user

        def deliver():
            def settled():
                with services.sessions() as s:
                    return s.scalar(select(func.count()).select_from(Message).where(
                        Message.status.in_(["pending", "sending"]))) == 0
            wait_for(settled, what="the worker to send every owed message")
            assert worker.poll() is None, worker.stderr.read().decode()

        run_whole_loop(services=services, session=session, clock=prod_clock, api=Api(), client=client,
                       make_user=make_user, deliver=deliver, delivered=smtp_sink.received)
