"""Settings from NURTURE_* environment variables, with the embedded defaults.

With nothing set, Nurture runs embedded: SQLite in the instance folder, an in-process queue and
an outbox instead of SMTP. Each production part is switched on by its own variable.
"""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit


MIN_SECRET_BYTES = 32


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False  # smtps://
    starttls: bool = False      # smtp://...?starttls=1
    timeout: float = 30.0
    cafile: str | None = None   # ?cafile=/path: trust this CA (a private relay's certificate)

    @classmethod
    def from_url(cls, url: str) -> "SmtpSettings":
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(f"NURTURE_SMTP_URL must look like smtp://user:pass@host:port or smtps://…, got {url!r}")
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=query.get("starttls", "0") in ("1", "true", "yes"),
            timeout=float(query.get("timeout", 30)),
            cafile=unquote(query["cafile"]) if query.get("cafile") else None,
        )


@dataclass(frozen=True)
class Config:
    instance_path: Path
    database_url: str
    redis_url: str | None
    smtp: SmtpSettings | None
    base_url: str
    secret_key: str
    mail_from: str
    postal_address: str
    campaigns_dir: Path
    templates_dir: Path
    reply_to: str | None = None
    dkim_selector: str | None = None
    dkim_private_key: bytes | None = None
    smtp_connections: int = 4           # parallel SMTP connections per send job
    smtp_max_connections: int = 32      # connections to the relay at once, across all workers
    retry_base_seconds: int = 60        # first retry after a temporary failure; doubles each time
    delivery_sync_commit: bool = False  # PostgreSQL synchronous_commit for delivery bookkeeping
    scheduler_interval: float = 5.0
    send_batch_size: int = 500
    lease_seconds: int = 300
    proxy_hops: int = 0                 # proxies in front adding X-Forwarded-For: the visitor's address is theirs
    api_rate_limit: str = "600/minute"  # per API key across the API (Flask-Limiter notation)
    api_batch_rate_limit: str = "60/minute"  # per API key for each batch endpoint, on top of the above
    testing: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return self.redis_url is None

    def with_overrides(self, **changes) -> "Config":
        return replace(self, **changes)


PROJECT_ROOT = Path(__file__).resolve().parent.parent


def load_config(environ: dict | None = None) -> Config:
    env = os.environ if environ is None else environ
    instance = Path(env.get("NURTURE_INSTANCE_PATH", PROJECT_ROOT / "instance"))
    database_url = env.get("NURTURE_DATABASE_URL") or f"sqlite:///{instance / 'nurture.db'}"
    redis_url = env.get("NURTURE_REDIS_URL") or None
    smtp_url = env.get("NURTURE_SMTP_URL") or None
    embedded = redis_url is None
    secret = env.get("NURTURE_SECRET_KEY")
    if not secret:
        if not embedded:
            raise ConfigError("NURTURE_SECRET_KEY is required when NURTURE_REDIS_URL is set (production mode)")
        secret = _embedded_secret(instance)
    elif len(secret.encode()) < MIN_SECRET_BYTES:  # it signs sessions and every link in every email
        raise ConfigError(f"NURTURE_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes, got {len(secret.encode())}; "
                          "make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'")
    return Config(
        instance_path=instance,
        database_url=_normalise_database_url(database_url),
        redis_url=redis_url,
        smtp=SmtpSettings.from_url(smtp_url) if smtp_url else None,
        base_url=env.get("NURTURE_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        secret_key=secret,
        mail_from=env.get("NURTURE_FROM", "Nurture <hello@nurture.example>"),
        postal_address=env.get("NURTURE_POSTAL_ADDRESS", "Nurture Inc., 1 Market Street, San Francisco, CA 94105, USA"),
        campaigns_dir=Path(env.get("NURTURE_CAMPAIGNS_DIR", PROJECT_ROOT / "campaigns")),
        templates_dir=Path(env.get("NURTURE_TEMPLATES_DIR", PROJECT_ROOT / "templates")),
        reply_to=env.get("NURTURE_REPLY_TO") or None,
        dkim_selector=env.get("NURTURE_DKIM_SELECTOR") or None,
        dkim_private_key=_dkim_key(env),
        smtp_connections=_positive_int(env, "NURTURE_SMTP_CONNECTIONS", 4),
        smtp_max_connections=_positive_int(env, "NURTURE_SMTP_MAX_CONNECTIONS", 32),
        retry_base_seconds=_positive_int(env, "NURTURE_RETRY_BASE_SECONDS", 60),
        delivery_sync_commit=env.get("NURTURE_DELIVERY_SYNC_COMMIT", "off").lower() in ("1", "on", "true", "yes"),
        lease_seconds=_positive_int(env, "NURTURE_LEASE_SECONDS", 300),
        send_batch_size=_positive_int(env, "NURTURE_SEND_BATCH_SIZE", 500),
        scheduler_interval=float(env.get("NURTURE_SCHEDULER_INTERVAL", 5)),
        proxy_hops=_positive_int(env, "NURTURE_PROXY_HOPS", 0, minimum=0),
        api_rate_limit=_rate(env, "NURTURE_API_RATE_LIMIT", "600/minute"),
        api_batch_rate_limit=_rate(env, "NURTURE_API_BATCH_RATE_LIMIT", "60/minute"),
    )


RATE_RE = re.compile(r"^\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day)s?\s*$", re.I)


def _rate(env, name: str, default: str) -> str:
    """A limit such as 600/minute, 100 per 10 seconds, or several joined by ';' (all apply)."""
    value = env.get(name) or default
    if not all(RATE_RE.match(part) for part in value.split(";")):
        raise ConfigError(f"{name} must look like 600/minute or 100 per 10 seconds (several joined by ;), got {value!r}")
    return value


def _positive_int(env, name: str, default: int, *, minimum: int = 1) -> int:
    value = env.get(name)
    if value in (None, ""):
        return default
    if not str(value).isdigit() or int(value) < minimum:
        raise ConfigError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    return int(value)


def _dkim_key(env) -> bytes | None:
    """The PEM private key from NURTURE_DKIM_KEY, or the file NURTURE_DKIM_KEY_FILE names."""
    if env.get("NURTURE_DKIM_KEY"):
        key = env["NURTURE_DKIM_KEY"].encode()
    elif env.get("NURTURE_DKIM_KEY_FILE"):
        try:
            key = Path(env["NURTURE_DKIM_KEY_FILE"]).read_bytes()
        except OSError as exc:
            raise ConfigError(f"NURTURE_DKIM_KEY_FILE cannot be read: {exc}") from None
    else:
        return None
    if b"PRIVATE KEY" not in key:
        raise ConfigError("the DKIM key must be a PEM private key (-----BEGIN PRIVATE KEY-----)")
    if not env.get("NURTURE_DKIM_SELECTOR"):
        raise ConfigError("NURTURE_DKIM_SELECTOR is required with a DKIM key")
    return key


def _normalise_database_url(url: str) -> str:
    # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _embedded_secret(instance: Path) -> str:
    """A per-install random key kept in the instance folder, so signed links survive restarts."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
