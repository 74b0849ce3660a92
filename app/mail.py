"""Where finished messages go: an SMTP relay in production, the outbox table when embedded.

The SMTP client speaks the protocol step by step (with PIPELINING when the server offers it) so
that it can tell a refusal, which leaves the connection usable, from a lost connection — and a
connection lost before the final "." from one lost while waiting for the server's answer to it,
when the message may already have been accepted.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator, Protocol

from .config import SmtpSettings


class SendError(Exception):
    """Base of delivery failures."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class Refused(SendError):
    """The server answered with a 4xx or 5xx; the connection can carry the next message."""

    def __init__(self, code: int, text: str):
        super().__init__(f"{code} {text}", code)
        self.text = text


class ConnectionLost(SendError):
    """Could not connect, or the connection broke or timed out.

    `maybe_accepted` is set when it broke after the whole message was handed over but before the
    server answered: the message may have been delivered and must not be sent again silently."""

    def __init__(self, message: str, *, maybe_accepted: bool = False):
        super().__init__(message)
        self.maybe_accepted = maybe_accepted


class Connection(Protocol):
    def send(self, mail_from: str, to: str, raw: bytes, *, message_id: int | None, subject: str) -> str:
        """Hand one message over; returns the server's reply. Raises Refused or ConnectionLost."""


def _dot_stuff(raw: bytes) -> bytes:
    data = raw.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


class SmtpConnection:
    def __init__(self, client: smtplib.SMTP):
        self.client = client
        self.pipelining = client.has_extn("pipelining")
        self.dirty = False  # a refused transaction must be reset before the next

    def _reply(self) -> tuple[int, str]:
        code, text = self.client.getreply()
        return code, text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)

    def send(self, mail_from, to, raw, *, message_id=None, subject=""):
        handed_over = False
        try:
            if self.dirty:
                self.client.rset()
                self.dirty = False
            commands = [f"MAIL FROM:<{mail_from}>", f"RCPT TO:<{to}>", "DATA"]
            if self.pipelining:
                self.client.send(("\r\n".join(commands) + "\r\n").encode("ascii"))
                replies = [self._reply() for _ in commands]
            else:
                replies = []
                for command in commands:
                    self.client.send((command + "\r\n").encode("ascii"))
                    replies.append(self._reply())
                    if replies[-1][0] >= 400:
                        break
            for (code, text), wanted in zip(replies, (250, 250, 354)):
                if code != wanted and not (wanted == 250 and code == 251):
                    self.dirty = True
                    if code == 354:  # DATA was accepted after a refused RCPT: end it empty
                        self.client.send(b".\r\n")
                        self._reply()
                    raise Refused(code, text)
            self.client.send(_dot_stuff(raw))
            handed_over = True
            code, text = self._reply()
        except Refused:
            raise
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise ConnectionLost(f"connection lost: {exc or type(exc).__name__}", maybe_accepted=handed_over) from exc
        if code != 250:
            raise Refused(code, text)
        return f"{code} {text}"[:1000]


class SmtpSender:
    """Connections to one relay, kept open between jobs: connecting, STARTTLS and AUTH cost several
    round trips, which to a relay 20 ms away is more than sending a message."""

    _idle: dict[SmtpSettings, list[tuple[float, SmtpConnection]]] = {}
    _lock = threading.Lock()
    MAX_IDLE_SECONDS = 30.0
    CHECK_AFTER_SECONDS = 1.0

    def __init__(self, settings: SmtpSettings):
        self.settings = settings

    @contextmanager
    def connect(self) -> Iterator[SmtpConnection]:
        connection = self._reuse() or self._open()
        healthy = False
        try:
            yield connection
            healthy = not connection.dirty
        finally:
            if healthy:
                with self._lock:
                    self._idle.setdefault(self.settings, []).append((time.monotonic(), connection))
            else:
                _close(connection.client)

    def _reuse(self) -> SmtpConnection | None:
        while True:
            with self._lock:
                pool = self._idle.get(self.settings) or []
                if not pool:
                    return None
                since, connection = pool.pop()
            idle = time.monotonic() - since
            if idle > self.MAX_IDLE_SECONDS:
                _close(connection.client)
                continue
            if idle > self.CHECK_AFTER_SECONDS:  # the relay may have closed it meanwhile
                try:
                    if connection.client.noop()[0] != 250:
                        raise smtplib.SMTPException("noop refused")
                except (smtplib.SMTPException, OSError):
                    _close(connection.client)
                    continue
            return connection

    def _open(self) -> SmtpConnection:
        s = self.settings
        try:
            context = _tls_context(s.cafile) if (s.implicit_tls or s.starttls) else None
            if s.implicit_tls:
                client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            client.ehlo_or_helo_if_needed()
            if s.starttls:
                client.starttls(context=context)
                client.ehlo()
            if s.username:
                client.login(s.username, s.password or "")
        except (smtplib.SMTPException, OSError) as exc:
            raise ConnectionLost(f"cannot connect to {s.host}:{s.port}: {exc}") from exc
        return SmtpConnection(client)

    @classmethod
    def close_idle(cls) -> None:
        with cls._lock:
            pools, cls._idle = cls._idle, {}
        for pool in pools.values():
            for _, connection in pool:
                _close(connection.client)


@lru_cache(maxsize=8)
def _tls_context(cafile: str | None) -> ssl.SSLContext:
    """Certificates are always verified. Built once per CA file: loading the system's CA store costs
    more than a message, and a context is safe to share between connections and threads."""
    return ssl.create_default_context(cafile=cafile)


def _close(client: smtplib.SMTP) -> None:
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
