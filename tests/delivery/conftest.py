"""A scriptable SMTP server on loopback: each recipient's local part says how the server answers."""
from __future__ import annotations

import asyncio
import threading

import pytest

from app import create_app
from app.config import load_config
from app.models import Base
from tests.integration.conftest import free_port


class ScriptedSmtp:
    """rcpt "bounce+…" → 550 5.1.1, "rate+…" → 421 4.7.28, "policy+…" → 550 5.7.1, "later+…" → 451
    (first time only), "reject+…" → 554 5.6.0 at DATA, "hang+…" → no answer after the data."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.accepted: list[bytes] = []
        self.seen_later: set[str] = set()
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("bounce"):
            return "550 5.1.1 The email account that you tried to reach does not exist"
        if local.startswith("rate"):
            return "421 4.7.28 Our system has detected an unusual rate of unsolicited mail"
        if local.startswith("policy"):
            return "550 5.7.1 Message rejected due to local policy"
        if local.startswith("later") and address not in self.seen_later:
            self.seen_later.add(address)
            return "451 4.3.0 Temporary lookup failure"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        to = envelope.rcpt_tos[0]
        if to.startswith("reject"):
            return "554 5.6.0 Message content rejected"
        if to.startswith("hang"):
            await asyncio.sleep(3)
        with self.lock:
            self.accepted.append(envelope.original_content or envelope.content)
        return "250 2.0.0 Ok: queued"

    def recipients(self) -> list[str]:
        import email

        with self.lock:
            return [email.message_from_bytes(raw)["To"] for raw in self.accepted]


@pytest.fixture
def scripted_smtp():
    server = ScriptedSmtp()
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def smtp_app(tmp_path, clock, scripted_smtp):
    """The embedded queue and SQLite, but sending over SMTP to the scripted server (1 s timeout)."""
    config = load_config({"NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_BASE_URL": "https://nurture.test",
                          "NURTURE_SECRET_KEY": "test", "NURTURE_SMTP_URL": f"smtp://127.0.0.1:{scripted_smtp.port}?timeout=1",
                          "NURTURE_SMTP_CONNECTIONS": "2"})
    app = create_app(config.with_overrides(testing=True), clock=clock)
    Base.metadata.create_all(app.extensions["nurture"].engine)
    yield app
    app.extensions["nurture"].engine.dispose()
