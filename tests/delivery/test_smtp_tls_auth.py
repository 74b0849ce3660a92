"""STARTTLS, implicit TLS and authentication against a real SMTP server on loopback."""
from __future__ import annotations

import secrets
import ssl
import subprocess
import threading

import pytest

from app.config import SmtpSettings
from app.infra.mail import ConnectionLost, SmtpSender
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


class Inbox:
    def __init__(self):
        self.messages, self.logins = [], []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(envelope.content)
        return "250 2.0.0 Ok"


def authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == b"nurture" and auth_data.password == b"s3cret"
    return AuthResult(success=ok)


@pytest.fixture
def tls_server(certificate):
    from aiosmtpd.controller import Controller

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_required=True, authenticator=authenticator)
    controller.start()
    yield inbox, port, cert
    controller.stop()


def send_one(settings: SmtpSettings) -> str:
    with SmtpSender(settings).connect() as connection:
        return connection.send("hello@brightline.example", "ana@example.org",
                               b"Subject: hi\r\nMessage-ID: <" + secrets.token_hex(8).encode() + b"@x>\r\n\r\nHello\r\n",
                               message_id=None, subject="hi")


def test_starttls_with_login_delivers(tls_server):
    """smtp://user:pass@host:port?starttls=1 upgrades to TLS, authenticates, and sends."""
    inbox, port, cert = tls_server
    settings = SmtpSettings.from_url(f"smtp://nurture:s3cret@127.0.0.1:{port}?starttls=1&cafile={cert}&timeout=5")
    assert send_one(settings).startswith("250")
    assert len(inbox.messages) == 1


def test_wrong_password_or_untrusted_certificate_is_a_connection_failure(tls_server):
    """Bad credentials and a certificate nobody vouches for both refuse to send, with a reason."""
    inbox, port, cert = tls_server
    with pytest.raises(ConnectionLost, match="cannot connect"):
        send_one(SmtpSettings.from_url(f"smtp://nurture:wrong@127.0.0.1:{port}?starttls=1&cafile={cert}&timeout=5"))
    with pytest.raises(ConnectionLost, match="certificate"):
        send_one(SmtpSettings.from_url(f"smtp://nurture:s3cret@127.0.0.1:{port}?starttls=1&timeout=5"))
    assert inbox.messages == []


def test_implicit_tls_smtps_delivers(certificate):
    """smtps:// speaks TLS from the first byte."""
    from aiosmtpd.controller import Controller

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        settings = SmtpSettings.from_url(f"smtps://127.0.0.1:{port}?cafile={cert}&timeout=5")
        assert send_one(settings).startswith("250")
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
