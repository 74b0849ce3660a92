"""Real servers: a fresh PostgreSQL database per test, a Redis database, an SMTP server on loopback,
and real `nurture worker` processes. Unreachable servers skip loudly (fail under CI)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from app import create_app
from app.clock import MovableClock, utcnow
from app.config import load_config
from app.db import upgrade
from tests.conftest import require

PG_ADMIN_URL = os.environ.get("NURTURE_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("NURTURE_TEST_REDIS", "redis://127.0.0.1:6379/13")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, *, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def pg_url():
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:
        require(f"PostgreSQL at {PG_ADMIN_URL}: {exc}")
    name = f"nurture_it_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def redis_url():
    from redis import Redis

    try:
        client = Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
    except Exception as exc:
        require(f"Redis at {REDIS_URL}: {exc}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


class SmtpSink:
    """An aiosmtpd server on loopback that keeps every message it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[bytes] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(envelope.original_content or envelope.content)
        return "250 2.0.0 Ok: queued"

    def received(self) -> list[bytes]:
        with self.lock:
            return list(self.messages)


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


@pytest.fixture
def prod_env(pg_url, redis_url, smtp_sink, tmp_path):
    return {
        "NURTURE_DATABASE_URL": pg_url, "NURTURE_REDIS_URL": redis_url,
        "NURTURE_SMTP_URL": f"smtp://127.0.0.1:{smtp_sink.port}?timeout=10",
        "NURTURE_BASE_URL": "https://nurture.test", "NURTURE_SECRET_KEY": "integration-secret-0123456789abcdef0123456789abcdef",
        "NURTURE_FROM": "Brightline Motion <hello@brightline.example>", "NURTURE_INSTANCE_PATH": str(tmp_path),
    }


@pytest.fixture
def prod_clock():
    return MovableClock(utcnow())


@pytest.fixture
def queued_app(prod_env, prod_clock):
    """Production settings with tracking hits left to drainers (not drained inside the request)."""
    app = create_app(load_config(prod_env).with_overrides(testing=True, extra={"tracking_drain": "queue"}),
                     clock=prod_clock)
    services = app.extensions["nurture"]
    upgrade(services.engine)
    yield app
    services.engine.dispose()


@pytest.fixture
def prod_app(prod_env, prod_clock):
    """The production configuration, schema created through the Alembic migration."""
    app = create_app(load_config(prod_env).with_overrides(testing=True), clock=prod_clock)
    services = app.extensions["nurture"]
    upgrade(services.engine)
    yield app
    services.engine.dispose()


@pytest.fixture
def worker_processes(prod_env):
    """Start real `nurture worker` processes; they are killed at teardown."""
    started: list[subprocess.Popen] = []

    def start(count: int = 1) -> list[subprocess.Popen]:
        env = {**os.environ, **prod_env, "PYTHONUNBUFFERED": "1"}
        for _ in range(count):
            started.append(subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        return started[-count:]

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=10)
