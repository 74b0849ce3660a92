"""Webhook endpoints, managed by admins: a URL, a signing secret shown once, the event types it
takes, whether it is active, and whether it may reach a private address. Also the endpoint that
`nurture webhook set URL` manages (named "crm", taking the handoff events), and each endpoint's
delivery log."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.infra.webhook_http import literal_address, refusal
from app.models import WebhookDelivery, WebhookEndpoint
from app.models.base import MAX_ROW_ID

from app.domain.contacts.webhooks import EVENT_TYPES, forget_subscribers
from app.domain.errors import Conflict, NotFound, ValidationError

CRM = "crm"  # the endpoint `nurture webhook set` manages
CRM_EVENTS = ("handoff.created", "handoff.assigned", "handoff.escalated", "handoff.accepted", "handoff.rejected",
              "outcome.recorded")
URL_MAX = 2000
NAME_MAX = 100
STATUSES = ("pending", "sending", "delivered", "failed")


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def check_url(url: Any, *, allow_private: bool) -> str:
    """http(s) only, no user:pass@, and no literal private address (or localhost) unless allowed.
    Host names are resolved and checked again at every delivery."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("url", "give the receiver's http:// or https:// address")
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [IPv6 address
        raise ValidationError("url", "is not a URL that can be read") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("url", f"must be an http:// or https:// address, got {url[:100]!r}")
    if len(url) > URL_MAX or not url.isprintable() or " " in url:
        raise ValidationError("url", f"must be one address without spaces, at most {URL_MAX} characters")
    if "@" in parts.netloc:
        raise ValidationError("url", "must not carry a user name or password (user:pass@…): receivers check "
                                     "the X-Nurture-Signature header instead")
    try:
        parts.port
    except ValueError:
        raise ValidationError("url", "has a port that is not a number from 1 to 65535") from None
    host = parts.hostname
    address = literal_address(host)
    why = refusal(address, allow_private=allow_private) if address is not None else None
    if why is None and not allow_private and (host == "localhost" or host.endswith(".localhost")):
        why = "a loopback address"
    if why is not None:
        hint = "" if allow_private or why in ("a link-local address", "a multicast address",
                                              "an unspecified address") else \
            "; an admin may allow private addresses for this endpoint"
        raise ValidationError("url", f"{host} is {why}: webhooks go to public addresses only{hint}")
    return url


def check_events(events: Any) -> list[str]:
    if isinstance(events, str) or not isinstance(events, (list, tuple)) or not events:
        raise ValidationError("events", f"choose at least one event type: {', '.join(EVENT_TYPES)}")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise ValidationError("events", f"unknown event type {str(unknown[0])[:60]!r}; choose from {', '.join(EVENT_TYPES)}")
    return [e for e in EVENT_TYPES if e in events]


def _check_name(session: Session, name: Any, *, exclude: int | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("name", "name the endpoint after its receiver, e.g. salesforce")
    name = name.strip()
    if len(name) > NAME_MAX or not name.isprintable():
        raise ValidationError("name", f"must be printable text of at most {NAME_MAX} characters")
    taken = session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.name == name))
    if taken is not None and taken != exclude:
        raise Conflict(f"a webhook endpoint named {name!r} already exists")
    return name


def _check_flag(data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ValidationError(key, "must be true or false")
    return value


def _check_secret(secret: Any) -> str:
    if secret is None:
        return new_secret()
    if not isinstance(secret, str) or not 16 <= len(secret) <= 200 or not secret.isprintable():
        raise ValidationError("secret", "must be 16 to 200 printable characters")
    return secret


def create_endpoint(session: Session, data: Mapping[str, Any], *, actor: str, now: datetime) -> tuple[WebhookEndpoint, str]:
    """{name, url, events, allow_private?, active?, secret?} → the endpoint and its secret (shown this once)."""
    unknown = sorted(set(data) - {"name", "url", "events", "allow_private", "active", "secret"})
    if unknown:
        raise ValidationError(unknown[0], "is not a setting of a webhook endpoint")
    allow_private = _check_flag(data, "allow_private", False)
    endpoint = WebhookEndpoint(
        name=_check_name(session, data.get("name")), url=check_url(data.get("url"), allow_private=allow_private),
        events=check_events(data.get("events")), allow_private=allow_private,
        active=_check_flag(data, "active", True), secret=_check_secret(data.get("secret")),
        created_by=actor[:500], created_at=now, updated_at=now)
    session.add(endpoint)
    session.flush()
    forget_subscribers(session)
    return endpoint, endpoint.secret


def update_endpoint(session: Session, endpoint_id: int, data: Mapping[str, Any], *, now: datetime) -> WebhookEndpoint:
    """Change any of name, url, events, active, allow_private; the URL is checked against the new flag."""
    endpoint = get_endpoint(session, endpoint_id)
    unknown = sorted(set(data) - {"name", "url", "events", "allow_private", "active"})
    if unknown:
        raise ValidationError(unknown[0], "cannot be changed here (a new secret: rotate it)" if unknown[0] == "secret"
                              else "is not a setting of a webhook endpoint")
    allow_private = _check_flag(data, "allow_private", endpoint.allow_private)
    url = check_url(data.get("url", endpoint.url), allow_private=allow_private)
    if "name" in data:
        endpoint.name = _check_name(session, data["name"], exclude=endpoint.id)
    if "events" in data:
        endpoint.events = check_events(data["events"])
    endpoint.active = _check_flag(data, "active", endpoint.active)
    endpoint.url, endpoint.allow_private, endpoint.updated_at = url, allow_private, now
    forget_subscribers(session)
    return endpoint


def rotate_secret(session: Session, endpoint_id: int, *, now: datetime) -> str:
    """A new secret, shown this once; deliveries sign with it from their next attempt."""
    endpoint = get_endpoint(session, endpoint_id)
    endpoint.secret, endpoint.updated_at = new_secret(), now
    return endpoint.secret


def delete_endpoint(session: Session, endpoint_id: int) -> None:
    """The endpoint and its delivery log; nothing more is sent to it."""
    endpoint = get_endpoint(session, endpoint_id)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    forget_subscribers(session)


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id) if 0 < endpoint_id <= MAX_ROW_ID else None
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id}")
    return endpoint


def list_endpoints(session: Session) -> list[dict[str, Any]]:
    """Every endpoint with how many of its deliveries are in each state."""
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, status, n in session.execute(select(
            WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
            .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)):
        counts.setdefault(endpoint_id, {})[status] = n
    return [endpoint_json(e, counts=counts.get(e.id, {}))
            for e in session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.name))]


def endpoint_json(endpoint: WebhookEndpoint, *, secret: str | None = None,
                  counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """What an admin sees; the secret only when it was just made."""
    body = {"id": endpoint.id, "name": endpoint.name, "url": endpoint.url, "events": list(endpoint.events),
            "active": endpoint.active, "allow_private": endpoint.allow_private, "created_by": endpoint.created_by,
            "created_at": endpoint.created_at.isoformat(), "updated_at": endpoint.updated_at.isoformat()}
    if counts is not None:
        body["deliveries"] = {status: counts.get(status, 0) for status in STATUSES}
    if secret is not None:
        body["secret"] = secret
    return body


def delivery_log(session: Session, endpoint_id: int, *, status: str | None = None, limit: int = 50,
                 before: int | None = None) -> list[WebhookDelivery]:
    """The endpoint's deliveries, newest first; `before` a delivery id for the next page."""
    get_endpoint(session, endpoint_id)
    if status is not None and status not in STATUSES:
        raise ValidationError("status", f"must be one of {', '.join(STATUSES)}")
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))


def delivery_json(d: WebhookDelivery) -> dict[str, Any]:
    iso = lambda value: value.isoformat() if value else None  # noqa: E731
    return {"id": d.id, "delivery_id": d.payload.get("id"), "event": d.event, "status": d.status,
            "attempts": d.attempts, "response_code": d.response_code, "last_error": d.last_error,
            "created_at": iso(d.created_at), "next_attempt_at": iso(d.next_attempt_at),
            "delivered_at": iso(d.delivered_at), "contact_id": d.contact_id, "handoff_id": d.handoff_id,
            "history": d.history}


def configure_crm(session: Session, url: str | None, *, now: datetime, secret: str | None = None,
                  allow_private: bool = False) -> str | None:
    """`nurture webhook set URL` / `off`: the "crm" endpoint, taking the handoff events. Setting it
    (re)activates it with a new secret (or the one given), which is returned; None switches it off
    (deliveries already owed are still tried)."""
    endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.name == CRM))
    if url is None:
        if endpoint is not None:
            endpoint.active, endpoint.updated_at = False, now
            forget_subscribers(session)
        return None
    data = {"url": url, "allow_private": allow_private, "active": True, "events": list(CRM_EVENTS)}
    if endpoint is None:
        return create_endpoint(session, {**data, "name": CRM, "secret": secret}, actor="cli", now=now)[1]
    update_endpoint(session, endpoint.id, data, now=now)
    endpoint.secret = _check_secret(secret)
    return endpoint.secret
