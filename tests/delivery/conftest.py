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

    def __init__(self, pipelining: bool = False):
        from aiosmtpd.controller import Controller

        self.pipelining = pipelining
        self.accepted: list[bytes] = []
        self.seen_later: set[str] = set()
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:  # commands then arrive in groups; aiosmtpd answers them in order
            responses.insert(1, "250-PIPELINING")
        return responses

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


@pytest.fixture(params=["lockstep", "pipelined"])
def scripted_smtp(request):
    """Every outcome is checked against a server that answers command by command and one that
    advertises PIPELINING, where the next envelope rides behind the current message's content."""
    server = ScriptedSmtp(pipelining=request.param == "pipelined")
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def smtp_app(tmp_path, clock, scripted_smtp):
    """The embedded queue and SQLite, but sending over SMTP to the scripted server (1 s timeout)."""
    config = load_config({"NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_BASE_URL": "https://nurture.test",
                          "NURTURE_SECRET_KEY": "test-0123456789abcdef0123456789abcdef", "NURTURE_SMTP_URL": f"smtp://127.0.0.1:{scripted_smtp.port}?timeout=1",
                          "NURTURE_SMTP_CONNECTIONS": "2"})
    app = create_app(config.with_overrides(testing=True), clock=clock)
    Base.metadata.create_all(app.extensions["nurture"].engine)
    yield app
    app.extensions["nurture"].engine.dispose()


def owe_notices(services, now, *addresses) -> list[int]:
    """Pending rep-notice-like messages to these addresses, each with its contact (no campaign needed)."""
    import secrets

    from app.models import Contact, Message, MessageKind, MessageStatus

    ids = []
    with services.sessions() as session:
        for address in addresses:
            contact = Contact(email=address, email_domain=address.split("@")[1], created_at=now, updated_at=now,
                              fields={}, score_reasons=[], fit_reasons={})
            session.add(contact)
            session.flush()
            message = Message(public_id=secrets.token_hex(16), kind=MessageKind.NOTIFICATION, to_email=address,
                              subject="Hello", contact_id=contact.id, status=MessageStatus.PENDING, created_at=now)
            session.add(message)
            session.flush()
            ids.append(message.id)
        session.commit()
    return ids
