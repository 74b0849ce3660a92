"""Webhooks: each event a CRM may subscribe to is owed as a row, then signed, posted and retried.

Any room emits (`emit`): one delivery row per active endpoint that takes the event type, written
in the caller's transaction, so a webhook is owed exactly when what it reports is committed. This
lives in contacts, the lowest room, because every room emits. The scheduler hands due rows to RQ
(`due_deliveries`); the job claims a row under a lease, posts it through app.infra.webhook_http
(public addresses only unless the endpoint allows private ones; redirects never followed) and
records the answer. Delivery is at least once: receivers dedupe on X-Nurture-Delivery. The
signature header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t." + body>` with the endpoint's
secret, so a receiver can check both origin and freshness.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.infra import queue, webhook_http
from app.models import Contact, WebhookDelivery, WebhookEndpoint
from app.models.base import MAX_ROW_ID

from app.domain.errors import Conflict, NotFound

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Nurture-Signature"
MAX_ATTEMPTS = 10
LEASE = timedelta(minutes=2)
REQUEUE_AFTER = timedelta(minutes=5)
EVENT_TYPES = {
    "contact.created": "a contact arrived (API, form, import or event)",
    "contact.unsubscribed": "a contact unsubscribed from email",
    "message.bounced": "an email bounced (hard or soft)",
    "lead.qualified": "a contact met the agreement and goes to sales",
    "handoff.created": "a handoff to sales was made (assigned or queued)",
    "handoff.assigned": "a rep was given the lead (also after the queue or a reassignment)",
    "handoff.escalated": "the rep let the SLA pass and the lead went to their manager",
    "handoff.accepted": "the rep accepted the lead",
    "handoff.rejected": "the rep rejected the lead",
    "outcome.recorded": "sales recorded an opportunity, a win or a loss",
}


class WebhookError(Exception):
    """The receiver did not take the delivery; it is retried later (or given up after MAX_ATTEMPTS)."""


def backoff(attempt: int) -> timedelta:
    """30 s, 1 min, 2 min … doubling to at most 2 hours: ten attempts span about four hours."""
    return timedelta(seconds=min(30 * 2 ** (attempt - 1), 7200))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: float = 300) -> bool:
    """What a receiver does: recompute the HMAC and refuse stale timestamps."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


def shown_url(url: str) -> str:
    """The URL as logs may show it: scheme, host and port only (never credentials, path or query)."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}"


# --- owing -------------------------------------------------------------------------------------------

def _subscribers(session: Session, event: str) -> list[tuple[int, str]]:
    """Active endpoints taking this event, read once per transaction (a bulk import emits often)."""
    cached = session.info.get("webhook_endpoints")
    if cached is None or cached[0] is not session.get_transaction():
        rows = session.execute(select(WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.events)
                               .where(WebhookEndpoint.active.is_(True)).order_by(WebhookEndpoint.id)).all()
        cached = (session.get_transaction(), [tuple(row) for row in rows])
        session.info["webhook_endpoints"] = cached
    return [(endpoint_id, url) for endpoint_id, url, events in cached[1] if event in (events or ())]


def forget_subscribers(session: Session) -> None:
    session.info.pop("webhook_endpoints", None)


def emit(session: Session, event: str, data: dict[str, Any], *, now: datetime, contact_id: int | None = None,
         handoff_id: int | None = None) -> list[WebhookDelivery]:
    """Owe this event to every active endpoint that takes it, in the caller's transaction."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event!r}")
    owed = []
    for endpoint_id, url in _subscribers(session, event):
        owed.append(WebhookDelivery(
            endpoint_id=endpoint_id, event=event, url=url, contact_id=contact_id, handoff_id=handoff_id,
            status="pending", attempts=0, next_attempt_at=now, created_at=now, history=[],
            payload={"id": secrets.token_hex(12), "event": event, "occurred_at": now.isoformat(), **data}))
    session.add_all(owed)
    return owed


def contact_payload(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "email": contact.email, "first_name": contact.first_name, "last_name": contact.last_name,
            "name": contact.name, "company": contact.company, "title": contact.title, "industry": contact.industry,
            "country": contact.country, "source": contact.source, "stage": str(contact.stage),
            "email_status": str(contact.email_status), "score": contact.score, "grade": contact.grade}


def emit_contact(session: Session, event: str, contact: Contact, *, now: datetime, **extra: Any) -> None:
    """A contact event: the contact as it is now, plus what the event adds (e.g. the cause)."""
    if contact.id is None:
        session.flush()
    emit(session, event, {"contact": contact_payload(contact), **extra}, now=now, contact_id=contact.id)


def emit_bounce(session: Session, contact: Contact, message: Any, *, kind: str, detail: str, now: datetime) -> None:
    """message.bounced, from the SMTP reply (sending) or a bounce report (engagement). `message`: the
    Message row or the send path's copy of it (anything with public_id, kind, campaign_id, step_id)."""
    about = None if message is None else {
        "id": message.public_id, "kind": str(message.kind), "campaign_id": message.campaign_id,
        "step_id": message.step_id}
    emit_contact(session, "message.bounced", contact, now=now, bounce={"kind": kind, "detail": detail[:500]},
                 message=about)


# --- delivering --------------------------------------------------------------------------------------

class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float, *,
             allow_private: bool) -> tuple[int, str]:
        """POST once and return (status code, start of the answer); raise webhook_http.TargetRefused
        for a forbidden target, OSError when nothing answered."""


def _claim(session: Session, delivery_id: int, now: datetime) -> bool:
    claimed = session.execute(
        update(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now))
        .values(status="sending", lease_until=now + LEASE, attempts=WebhookDelivery.attempts + 1)
        .returning(WebhookDelivery.id)).scalars().all()
    session.commit()
    return bool(claimed)


def _body(delivery: WebhookDelivery, base_url: str) -> bytes:
    data = dict(delivery.payload)
    if isinstance(data.get("handoff"), dict) and "report_path" in data["handoff"]:
        data["handoff"] = {**data["handoff"], "report_url": base_url + data["handoff"]["report_path"]}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()


def _attempt(transport, endpoint: WebhookEndpoint, body: bytes, headers: dict[str, str],
             timeout: float) -> tuple[int | None, str | None]:
    """(code, error): error is None only for a 2xx. A 3xx is a failure: redirects are not followed."""
    try:
        code, answer = transport.post(endpoint.url, body, headers, timeout, allow_private=endpoint.allow_private)
    except webhook_http.TargetRefused as exc:
        return None, str(exc)[:500]
    except (OSError, ValueError) as exc:
        return None, f"no answer: {exc}"[:500]
    if 300 <= code < 400:
        return code, f"HTTP {code}: a redirect, not followed"
    return code, None if 200 <= code < 300 else f"HTTP {code}: {answer[:200]}"


def deliver(services, delivery_id: int, *, transport: Transport | None = None, timeout: float = 10.0) -> str:
    """Post one owed delivery. Returns delivered | skipped; raises WebhookError after recording a failure."""
    transport = transport or webhook_http
    with services.sessions() as session:
        now = services.now()
        if not _claim(session, delivery_id, now):
            return "skipped"
        delivery = session.get(WebhookDelivery, delivery_id)
        endpoint = delivery.endpoint
        started = time.monotonic()
        if endpoint is None or delivery.payload.get("erased"):
            code, error = None, "not sent: " + ("the contact was erased" if endpoint else "no endpoint")
        else:
            body = _body(delivery, services.config.base_url)
            headers = {"Content-Type": "application/json", "User-Agent": "Nurture-Webhook/1",
                       "X-Nurture-Event": delivery.event, "X-Nurture-Delivery": delivery.payload["id"],
                       SIGNATURE_HEADER: sign(endpoint.secret, int(now.timestamp()), body)}
            delivery.url = endpoint.url
            code, error = _attempt(transport, endpoint, body, headers, timeout)
        outcome = _record(delivery, now, code, error, elapsed_ms=int((time.monotonic() - started) * 1000))
        where, event = shown_url(delivery.url), delivery.event
        session.commit()
    if outcome != "delivered":
        log.warning("webhook delivery %s (%s) to %s: %s (%s)", delivery_id, event, where, error, outcome)
        raise WebhookError(f"webhook delivery {delivery_id}: {error} ({outcome})")
    return outcome


def _record(delivery: WebhookDelivery, now: datetime, code: int | None, error: str | None, *, elapsed_ms: int) -> str:
    delivery.history = [*delivery.history, {"attempt": delivery.attempts, "at": now.isoformat(), "code": code,
                                            "error": error, "ms": elapsed_ms}]
    delivery.response_code, delivery.last_error, delivery.lease_until = code, error, None
    delivery.queued_at = None
    if error is None:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        return "delivered"
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = "failed", None
        return "failed"
    delivery.status, delivery.next_attempt_at = "pending", now + backoff(delivery.attempts)
    return "retry"


def due_deliveries(session: Session, *, now: datetime, limit: int = 500) -> list[int]:
    """Deliveries to hand to RQ now: due and not queued recently. Expired leases go back to pending."""
    session.execute(update(WebhookDelivery).where(WebhookDelivery.status == "sending",
                                                  WebhookDelivery.lease_until < now)
                    .values(status="pending", lease_until=None, queued_at=None, next_attempt_at=now))
    ids = session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.queued_at.is_(None), WebhookDelivery.queued_at < now - REQUEUE_AFTER))
        .order_by(WebhookDelivery.id).limit(limit)).all()
    if ids:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(queued_at=now))
    return list(ids)


def redeliver(session: Session, endpoint_id: int, delivery_id: int, *, now: datetime) -> WebhookDelivery:
    """Owe a delivered or given-up delivery once more (same X-Nurture-Delivery, so receivers can dedupe);
    it is queued when the caller commits. One still being tried is left alone: it arrives once. A
    delivery that had given up gets one more attempt; a delivered one, its retries if it fails."""
    delivery = session.get(WebhookDelivery, delivery_id) if 0 < delivery_id <= MAX_ROW_ID else None
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise NotFound(f"delivery {delivery_id} of webhook endpoint {endpoint_id}")
    if delivery.status in ("pending", "sending"):
        raise Conflict("this delivery is still being tried; its next attempt is already owed")
    if delivery.payload.get("erased"):
        raise Conflict("the contact this delivery named was erased; it cannot be sent again")
    delivery.status, delivery.next_attempt_at, delivery.queued_at = "pending", now, now
    queue.owe_webhooks(session, [delivery.id])
    return delivery
