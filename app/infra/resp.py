"""A minimal Redis pipeline for the tracking hot path: one socket per thread, one write, one read.

redis-py spends ~200 µs of Python per pipelined call (pool checkout, retry wrappers, packing and
parsing); this spends ~30 µs, most of it the loopback round trip. It speaks only what the hot path
sends (RPUSH, SET … NX EX, HGET) over plain TCP or a Unix socket, and is used only when the app's
Redis is a real server reached that way; otherwise (fakeredis, TLS) the hot path uses redis-py.
"""
from __future__ import annotations

import socket
import threading


class RedisError(Exception):
    pass


def _pack(*args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class FastPipeline:
    def __init__(self, *, host: str | None = None, port: int = 6379, path: str | None = None, db: int = 0,
                 username: str | None = None, password: str | None = None, timeout: float = 2.0):
        self.address = path or (host, port)
        self.family = socket.AF_UNIX if path else socket.AF_INET
        self.db, self.username, self.password, self.timeout = db, username, password, timeout
        self.local = threading.local()

    @classmethod
    def for_client(cls, client) -> "FastPipeline | None":
        """A fast pipeline to the same server as a redis-py client, or None where it cannot be used."""
        try:
            pool = client.connection_pool
            kwargs = pool.connection_kwargs
            kind = pool.connection_class.__name__
        except AttributeError:  # fakeredis or something else: use the client itself
            return None
        if kind == "UnixDomainSocketConnection":
            return cls(path=kwargs["path"], db=kwargs.get("db") or 0, username=kwargs.get("username"),
                       password=kwargs.get("password"))
        if kind != "Connection" or "host" not in kwargs:
            return None  # TLS and the like
        return cls(host=kwargs["host"], port=kwargs.get("port") or 6379, db=kwargs.get("db") or 0,
                   username=kwargs.get("username"), password=kwargs.get("password"))

    def _connect(self):
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.address)
        if self.family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        setup = []
        if self.password:
            setup.append(_pack("AUTH", *( [self.username] if self.username else []), self.password))
        if self.db:
            setup.append(_pack("SELECT", self.db))
        self.local.sock, self.local.buffer = sock, b""
        if setup:
            sock.sendall(b"".join(setup))
            for _ in setup:
                self._reply()
        return sock

    def execute(self, commands: list[tuple]) -> list:
        """Send the commands in one write and read their replies; raises on any trouble (the caller falls back)."""
        sock = getattr(self.local, "sock", None) or self._connect()
        try:
            sock.sendall(b"".join(_pack(*command) for command in commands))
            return [self._reply() for _ in commands]
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        sock = getattr(self.local, "sock", None)
        self.local.sock, self.local.buffer = None, b""
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _line(self) -> bytes:
        while True:
            end = self.local.buffer.find(b"\r\n")
            if end >= 0:
                line, self.local.buffer = self.local.buffer[:end], self.local.buffer[end + 2:]
                return line
            self._fill()

    def _fill(self) -> None:
        chunk = self.local.sock.recv(65536)
        if not chunk:
            raise RedisError("connection closed by the server")
        self.local.buffer += chunk

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            while len(self.local.buffer) < size + 2:
                self._fill()
            data, self.local.buffer = self.local.buffer[:size], self.local.buffer[size + 2:]
            return data
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._reply() for _ in range(count)]
        raise RedisError(f"unexpected reply {line[:40]!r}")
