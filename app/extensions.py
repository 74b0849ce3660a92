"""The database, the queue and the sender, bound to an app in init_app; nothing opens at import."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .clock import SystemClock
from .config import Config

QUEUE_NAMES = ("default",)


@dataclass
class Services:
    """Everything with I/O that the domain is handed: one per app, shared by views and jobs."""

    config: Config
    engine: Engine
    sessions: sessionmaker
    redis: Any
    clock: Any = field(default_factory=SystemClock)
    sender_factory: Callable[[], Any] | None = None

    def queue(self, name: str = "default"):
        from rq import Queue

        return Queue(name, connection=self.redis)

    def sender(self):
        return self.sender_factory()

    def now(self):
        return self.clock.now()

    @property
    def tokens(self):
        try:
            return self._tokens  # read once or more per email sent
        except AttributeError:
            from app.domain.messages.links import Tokens

            self._tokens = Tokens(self.config.secret_key, self.config.base_url)
            return self._tokens


def make_engine(url: str, *, connections: int = 10) -> Engine:
    """`connections`: how many the process keeps pooled; a send job holds one per SMTP connection."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets the web thread read while the embedded worker writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=connections, max_overflow=20)


def make_redis(config: Config):
    if config.redis_url:
        from redis import Redis

        return Redis.from_url(config.redis_url)
    import fakeredis

    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def init_services(app: Flask, config: Config, clock=None) -> Services:
    from app.infra.mail import make_sender_factory
    from app.infra.queue import install_enqueue_after_commit

    # Every SMTP lane of a send job holds a database connection while it sends, plus a few for the rest.
    engine = make_engine(config.database_url, connections=max(10, config.smtp_connections + 4))
    sessions = sessionmaker(engine, expire_on_commit=False)
    services = Services(config=config, engine=engine, sessions=sessions, redis=make_redis(config))
    if clock is not None:
        services.clock = clock
    services.sender_factory = make_sender_factory(services)
    install_enqueue_after_commit(services)
    app.extensions["nurture"] = services

    @app.teardown_appcontext
    def _close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    return services


def services() -> Services:
    return current_app.extensions["nurture"]


def db_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = services().sessions()
    return g.db_session
