"""The buffered tracking path on PostgreSQL and Redis: answered while the database is slow or down,
nothing lost, nothing written twice, drained by real worker processes."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from app import create_app
from app.config import load_config
from app.db import upgrade
from app.domain.engagement import hits as hit_codec
from app.domain.engagement.drain import drain
from app.infra import hit_buffer
from app.domain.campaigns.sync import sync_directory
from app.domain.engagement.arrivals import upsert_contact
from app.domain.engagement.recording import record_hits
from app.models import Campaign, Event, Message, Step
from tests.conftest import ROOT
from tests.loop_steps import BROWSER_UA

from .conftest import free_port, wait_for

pytestmark = pytest.mark.integration


def _sent_emails(services, count: int) -> list[Message]:
    now = services.now()
    with services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=now)
        campaign = session.scalar(select(Campaign).where(Campaign.kind == "drip").order_by(Campaign.id))
        step = session.scalar(select(Step).where(Step.campaign_id == campaign.id).order_by(Step.position))
        messages = []
        for i in range(count):
            contact, _ = upsert_contact(session, {"email": f"reader{i}@example.org"}, now=now)
            message = Message(public_id=uuid.uuid4().hex, contact_id=contact.id, campaign_id=campaign.id,
                              step_id=step.id, step_version_id=step.current_version_id, to_email=contact.email,
                              subject="hello", status="sent", created_at=now, sent_at=now - timedelta(hours=3))
            session.add(message)
            messages.append(message)
        session.commit()
        return messages


def _events(services, kind=None) -> int:
    with services.sessions() as session:
        query = select(func.count()).select_from(Event).where(Event.type.in_(["email_open", "email_click"]))
        return session.scalar(query.where(Event.type == kind) if kind else query)


def test_hits_are_answered_while_postgres_is_unreachable_and_drain_when_it_returns(queued_app):
    """Database unreachable: every pixel and click still answers, the drain writes nothing and loses nothing;
    when the database returns the whole backlog is written, exactly once."""
    services = queued_app.extensions["nurture"]
    client = queued_app.test_client()
    tokens = services.tokens
    messages = _sent_emails(services, 3)
    for m in messages:  # a first click caches each destination
        assert client.get(f"/t/c/{tokens.sign('click', m.public_id, 0)}", headers={"User-Agent": BROWSER_UA}).status_code == 302
    assert drain(services).written == 3
    working = services.sessions
    services.sessions = sessionmaker(create_engine("postgresql+psycopg://root@127.0.0.1:1/gone",
                                                   connect_args={"connect_timeout": 2}))
    try:
        for m in messages * 20:
            assert client.get(f"/t/o/{tokens.sign('open', m.public_id)}.gif", headers={"User-Agent": BROWSER_UA}).status_code == 200
            assert client.get(f"/t/c/{tokens.sign('click', m.public_id, 0)}", headers={"User-Agent": BROWSER_UA}).status_code == 302
        result = drain(services)
        assert result.error and "database unavailable" in result.error and result.written == 0
        assert hit_buffer.backlog(services.redis) == 120
    finally:
        services.sessions = working
    assert drain(services).written == 120
    assert (_events(services, "email_open"), _events(services, "email_click")) == (60, 63)
    assert drain(services).hits == 0 and hit_buffer.backlog(services.redis) == 0


def test_a_slow_database_does_not_slow_the_endpoints(queued_app):
    """With the events table locked by another transaction, hits still answer in milliseconds; the drain waits
    for the lock and then writes them all."""
    services = queued_app.extensions["nurture"]
    client = queued_app.test_client()
    [message] = _sent_emails(services, 1)
    path = f"/t/o/{services.tokens.sign('open', message.public_id)}.gif"
    with services.engine.connect() as blocker:
        blocker.exec_driver_sql("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        # This thread holds the lock: a pixel that touched the events table would never answer.
        for _ in range(50):
            assert client.get(path, headers={"User-Agent": BROWSER_UA}).status_code == 200
        drained = {}
        worker = threading.Thread(target=lambda: drained.update(result=drain(services)))
        worker.start()
        with services.engine.connect() as observer:
            wait_for(lambda: observer.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'events'::regclass").scalar(),
                what="the drainer waiting on the locked events table")
        assert worker.is_alive()  # waiting on the lock; the hits stay queued meanwhile
        blocker.exec_driver_sql("ROLLBACK")
    worker.join(timeout=30)
    assert drained["result"].written == 50 and _events(services) == 50


def test_a_retried_batch_writes_nothing_twice_on_postgres(queued_app):
    """INSERT … ON CONFLICT DO NOTHING: the same batch written three times is one row per hit."""
    services = queued_app.extensions["nurture"]
    [message] = _sent_emails(services, 1)
    hits = [hit_codec.encode(hit_codec.OPEN, message.public_id, at=time.time(), user_agent=BROWSER_UA) for _ in range(25)]
    assert record_hits(services, hits)["written"] == 25
    for _ in range(2):
        assert record_hits(services, hits) == {"written": 0, "duplicates": 25, "skipped": 0}
    assert _events(services) == 25


def test_concurrent_drainers_write_every_hit_exactly_once(queued_app):
    """Four drainers at once over one backlog: atomic claims and idempotent writes give one row per hit."""
    services = queued_app.extensions["nurture"]
    messages = _sent_emails(services, 20)
    hits = [hit_codec.encode(hit_codec.OPEN if i % 3 else hit_codec.CLICK, messages[i % 20].public_id, at=time.time(),
                          link=0, user_agent=BROWSER_UA, ip="81.2.69.142") for i in range(3000)]
    hit_buffer.push(services.redis, hits)
    threads = [threading.Thread(target=drain, args=(services,), kwargs={"batch_size": 200}) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert _events(services) == 3000 and hit_buffer.backlog(services.redis) == 0
    with services.sessions() as session:
        assert session.scalar(select(func.count(func.distinct(Event.dedupe_key))).where(Event.dedupe_key.like("hit:%"))) == 3000


@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_the_web_server_answers_and_a_worker_process_drains(queued_app, prod_env, worker_processes, server):
    """`nurture web` (gunicorn or granian) answers pixels and clicks over HTTP; a real `nurture worker` writes them."""
    services = queued_app.extensions["nurture"]
    [message] = _sent_emails(services, 1)
    [worker] = worker_processes(1)
    port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "app.cli", "web", "--host", "127.0.0.1", "--port", str(port),
                            "--workers", "2", "--server", server], cwd=ROOT, env={**os.environ, **prod_env},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"

        def up():
            try:
                urllib.request.urlopen(f"{base}/login", timeout=2).close()
                return True
            except OSError:
                return False
        wait_for(up, timeout=30, what="gunicorn")

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None
        opener = urllib.request.build_opener(NoRedirect)
        for _ in range(10):
            request = urllib.request.Request(f"{base}/t/o/{services.tokens.sign('open', message.public_id)}.gif",
                                             headers={"User-Agent": BROWSER_UA})
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200 and response.headers["Content-Type"] == "image/gif"
        request = urllib.request.Request(f"{base}/t/c/{services.tokens.sign('click', message.public_id, 0)}",
                                         headers={"User-Agent": BROWSER_UA})
        with pytest.raises(urllib.error.HTTPError) as redirected:
            opener.open(request, timeout=5)
        assert redirected.value.code == 302 and redirected.value.headers["Location"].startswith("https://")
        wait_for(lambda: _events(services) == 11, timeout=30, what="the worker to drain the hits")
        assert worker.poll() is None
    finally:
        web.terminate()
        web.wait(timeout=15)


@pytest.fixture
def app_without_redis(prod_env, prod_clock):
    """Production settings whose Redis is unreachable (nothing listens on its port)."""
    app = create_app(load_config({**prod_env, "NURTURE_REDIS_URL": "redis://127.0.0.1:1/0"})
                     .with_overrides(testing=True, extra={"tracking_drain": "queue"}), clock=prod_clock)
    services = app.extensions["nurture"]
    upgrade(services.engine)
    yield app
    services.engine.dispose()


def test_with_redis_unreachable_hits_are_answered_and_written_straight_to_postgres(app_without_redis):
    """No Redis: each pixel and click is still answered, and its event is written directly, once."""
    services = app_without_redis.extensions["nurture"]
    client = app_without_redis.test_client()
    [message] = _sent_emails(services, 1)
    for _ in range(5):
        pixel = client.get(f"/t/o/{services.tokens.sign('open', message.public_id)}.gif", headers={"User-Agent": BROWSER_UA})
        assert pixel.status_code == 200 and pixel.mimetype == "image/gif"
        click = client.get(f"/t/c/{services.tokens.sign('click', message.public_id, 0)}", headers={"User-Agent": BROWSER_UA})
        assert click.status_code == 302 and click.headers["Location"].startswith("https://")
    assert (_events(services, "email_open"), _events(services, "email_click")) == (5, 5)


def test_with_redis_and_postgres_unreachable_hits_are_logged_whole_and_replayed(app_without_redis, queued_app, caplog):
    """Both stores away: the visitor still gets the pixel, the hit is logged whole, and
    `nurture tracking replay` queues it again once Redis is back; the drain writes it exactly once."""
    from click.testing import CliRunner

    from app.cli import main

    services = app_without_redis.extensions["nurture"]
    [message] = _sent_emails(services, 1)
    client = app_without_redis.test_client()
    services.sessions = sessionmaker(create_engine("postgresql+psycopg://root@127.0.0.1:1/gone",
                                                   connect_args={"connect_timeout": 2}))
    with caplog.at_level("ERROR", logger="app.tracking.fastpath"):
        for _ in range(3):
            pixel = client.get(f"/t/o/{services.tokens.sign('open', message.public_id)}.gif", headers={"User-Agent": BROWSER_UA})
            assert pixel.status_code == 200 and pixel.mimetype == "image/gif"
    logged = [r.getMessage() for r in caplog.records if "tracking hit not recorded" in r.getMessage()]
    assert len(logged) == 3

    working = queued_app.extensions["nurture"]  # the same PostgreSQL database, with Redis back
    replayed = CliRunner().invoke(main, ["tracking", "replay"], input="\n".join(logged * 2) + "\n", obj=working)
    assert replayed.exit_code == 0 and "queued 6 hit(s)" in replayed.output  # the log read twice by mistake…
    assert drain(working).written == 3                                  # …still writes each hit once
    assert _events(working, "email_open") == 3
