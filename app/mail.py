"""Where finished messages go: an SMTP relay in production, the outbox table when embedded."""
from __future__ import annotations

import smtplib
import ssl
from contextlib import contextmanager
from typing import Iterator, Protocol

from .config import SmtpSettings


class SendError(Exception):
    """The server refused or the connection failed; `retriable` says whether to try again."""

    def __init__(self, message: str, code: int | None = None, retriable: bool = True):
        super().__init__(message)
        self.code = code
        self.retriable = retriable


class Connection(Protocol):
    def send(self, mail_from: str, to: str, raw: bytes, *, message_id: int | None, subject: str) -> str:
        """Hand one message over; returns the server's reply. Raises SendError."""


class Sender(Protocol):
    def connect(self) -> "contextmanager[Connection]": ...


class SmtpConnection:
    def __init__(self, client: smtplib.SMTP):
        self.client = client

    def send(self, mail_from, to, raw, *, message_id=None, subject=""):
        try:
            refused = self.client.sendmail(mail_from, [to], raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = exc.recipients[to]
            raise SendError(f"{code} {text.decode(errors='replace')}", code, retriable=code < 500) from exc
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            raise SendError(f"{exc.smtp_code} {text}", exc.smtp_code, retriable=exc.smtp_code < 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"connection failed: {exc}") from exc
        if refused:
            raise SendError(f"refused: {refused}")
        return "250 accepted"


class SmtpSender:
    def __init__(self, settings: SmtpSettings):
        self.settings = settings

    @contextmanager
    def connect(self) -> Iterator[SmtpConnection]:
        s = self.settings
        try:
            if s.implicit_tls:
                client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.starttls:
                    client.starttls(context=ssl.create_default_context())
            if s.username:
                client.login(s.username, s.password or "")
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"cannot connect to {s.host}:{s.port}: {exc}") from exc
        try:
            yield SmtpConnection(client)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


class OutboxConnection:
    def __init__(self, services):
        self.services = services

    def send(self, mail_from, to, raw, *, message_id=None, subject=""):
        from .models import OutboxEmail

        with self.services.sessions() as session:
            session.add(OutboxEmail(
                message_id=message_id, mail_from=mail_from, to_email=to, subject=subject,
                raw=raw.decode("utf-8", errors="replace"), created_at=self.services.now(),
            ))
            session.commit()
        return "250 kept in outbox"


class OutboxSender:
    """The embedded default: every message is kept in the database and shown in the web UI."""

    def __init__(self, services):
        self.services = services

    @contextmanager
    def connect(self) -> Iterator[OutboxConnection]:
        yield OutboxConnection(self.services)


def make_sender_factory(services):
    smtp = services.config.smtp
    if smtp is not None:
        return lambda: SmtpSender(smtp)
    return lambda: OutboxSender(services)
