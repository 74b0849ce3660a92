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

from app.config import SmtpSettings
from app.models import OutboxEmail


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
    """One message is handed over in two halves, so that a client can pipeline the next message's
    envelope behind the current message's content (RFC 2920): one round trip per message."""

    idle: bool  # may go back to the pool: no transaction open, no reply owed

    def open_envelope(self, mail_from: str, to: str) -> None:
        """Start the next transaction (a no-op if its envelope already went out with the last content)."""

    def envelope_result(self) -> None:
        """Wait for the envelope's answers. Raises Refused or ConnectionLost (nothing handed over)."""

    def send_content(self, raw: bytes, *, message_id: int | None, subject: str,
                     next_envelope: tuple[str, str] | None = None) -> None:
        """Hand the message over, and with it the next message's envelope where the server pipelines."""

    def content_result(self) -> str:
        """The server's answer to the message. Raises Refused, or ConnectionLost (maybe accepted)."""


def _dot_stuff(raw: bytes) -> bytes:
    data = raw.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


ENVELOPE_WANTS = {"RSET": (250,), "MAIL": (250,), "RCPT": (250, 251), "DATA": (354,)}


class SmtpConnection:
    def __init__(self, client: smtplib.SMTP):
        self.client = client
        self.pipelining = client.has_extn("pipelining")
        self.dirty = False      # a refused transaction must be reset before the next
        self.mid_data = False   # the server awaits content: only closing the socket ends that cleanly
        self.broken = False     # the connection was lost or timed out: close it, never reuse it
        self._commands: list[tuple[str, bytes]] = []  # the open envelope's commands, in order
        self._ahead: tuple[str, str] | None = None    # an envelope that went out behind the last content

    @property
    def idle(self) -> bool:
        return not (self.dirty or self.mid_data or self.broken or self._ahead or self._commands)

    def send(self, mail_from, to, raw, *, message_id=None, subject=""):
        """Hand one message over and return the server's reply (the two halves in one call)."""
        self.open_envelope(mail_from, to)
        self.envelope_result()
        self.send_content(raw, message_id=message_id, subject=subject)
        return self.content_result()

    def _reply(self) -> tuple[int, str]:
        code, text = self.client.getreply()
        return code, text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)

    def _envelope(self, mail_from: str, to: str) -> bytes:
        commands = [("RSET", b"RSET")] if self.dirty else []
        commands += [("MAIL", f"MAIL FROM:<{mail_from}>".encode("ascii")),
                     ("RCPT", f"RCPT TO:<{to}>".encode("ascii")), ("DATA", b"DATA")]
        self.dirty = False
        self._commands = commands
        return b"".join(line + b"\r\n" for _, line in commands)

    def open_envelope(self, mail_from, to):
        if self._ahead == (mail_from, to):
            self._ahead = None
            return
        if self._ahead is not None:  # an envelope went out for another message: the session is unusable
            self.broken = True
            raise ConnectionLost("internal: pipelined envelope does not match the next message")
        data = self._envelope(mail_from, to)
        if self.pipelining:
            self._write(data)

    def envelope_result(self):
        commands, self._commands = self._commands, []
        refusal = None
        try:
            for verb, line in commands:
                if not self.pipelining:
                    if refusal is not None:
                        break  # in lockstep, nothing more is sent after a refusal
                    self.client.send(line + b"\r\n")
                code, text = self._reply()
                if code == 354 and refusal is not None:  # DATA accepted after a refused RCPT: end it empty
                    self.client.send(b".\r\n")
                    self._reply()
                elif code not in ENVELOPE_WANTS[verb] and refusal is None:
                    refusal = Refused(code, text)
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise self._lost(exc) from exc
        if refusal is not None:
            self.dirty = True
            raise refusal
        self.mid_data = True

    def send_content(self, raw, *, message_id=None, subject="", next_envelope=None):
        data = _dot_stuff(raw)
        if next_envelope is not None and self.pipelining:
            data += self._envelope(*next_envelope)
            self._ahead = next_envelope
        try:
            self.client.send(data)
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            # With an envelope behind it, the final "." may have gone out before the failure.
            raise self._lost(exc, maybe_accepted=self._ahead is not None) from exc
        self.mid_data = False

    def content_result(self):
        try:
            code, text = self._reply()
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise self._lost(exc, maybe_accepted=True) from exc
        if code != 250:
            raise Refused(code, text)
        return f"{code} {text}"[:1000]

    def _write(self, data: bytes) -> None:
        try:
            self.client.send(data)
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise self._lost(exc) from exc

    def _lost(self, exc: Exception, *, maybe_accepted: bool = False) -> ConnectionLost:
        self.broken = True
        return ConnectionLost(f"connection lost: {exc or type(exc).__name__}", maybe_accepted=maybe_accepted)


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
            healthy = connection.idle
        finally:
            if healthy:
                with self._lock:
                    self._idle.setdefault(self.settings, []).append((time.monotonic(), connection))
            elif connection.mid_data or connection._ahead or connection.broken:
                connection.client.close()  # a QUIT now would be read as message content, or wait on a dead peer
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
    idle = True

    def __init__(self, services):
        self.services = services
        self._envelope: tuple[str, str] | None = None
        self._content: tuple[bytes, int | None, str] | None = None

    def open_envelope(self, mail_from, to):
        self._envelope = (mail_from, to)

    def envelope_result(self):
        pass

    def send_content(self, raw, *, message_id=None, subject="", next_envelope=None):
        self._content = (raw, message_id, subject)

    def content_result(self):
        (mail_from, to), (raw, message_id, subject) = self._envelope, self._content
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
