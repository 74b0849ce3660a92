"""The CRM webhook: a signed JSON POST per handoff event, retried with backoff, every attempt logged.

Domain code owes a delivery (a row); the scheduler hands due rows to RQ; the job claims the row
under a lease, posts, and records the answer. Delivery is at least once: receivers dedupe on
X-Nurture-Delivery. The signature header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t." + body>`
with the shared secret, so a receiver can check both origin and freshness.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.models import Handoff, WebhookDelivery

from app.domain.errors import ValidationError
from app.domain.settings import get_setting, put_setting

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Nurture-Signature"
MAX_ATTEMPTS = 10
LEASE = timedelta(minutes=2)
REQUEUE_AFTER = timedelta(minutes=5)
EVENTS = ("handoff.assigned", "handoff.escalated", "handoff.accepted", "handoff.rejected", "handoff.outcome")


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


# --- configuration -----------------------------------------------------------------------------------

def configure(session: Session, url: str | None, *, now: datetime, secret: str | None = None) -> str | None:
    """Set (or with url=None, switch off) the CRM endpoint; returns the secret (generated if not given)."""
    if url is None:
        put_setting(session, "webhook", {"url": None, "secret": None}, now)
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("url", f"must be an http:// or https:// address, got {url!r}")
    if secret is not None and len(secret) < 16:
        raise ValidationError("secret", "must be at least 16 characters")
    secret = secret or "whsec_" + secrets.token_urlsafe(32)
    put_setting(session, "webhook", {"url": url, "secret": secret}, now)
    return secret


def handoff_payload(handoff: Handoff) -> dict[str, Any]:
    contact, rep = handoff.contact, handoff.rep
    return {
        "id": handoff.id, "status": str(handoff.status), "reason": handoff.reason, "score": handoff.score,
        "grade": handoff.grade, "assignment": handoff.assignment,
        "rep": {"id": rep.id, "email": rep.email, "name": rep.name} if rep else None,
        "contact": {"id": contact.id, "email": contact.email, "name": contact.name, "company": contact.company,
                    "title": contact.title, "stage": str(contact.stage)},
        "created_at": handoff.created_at.isoformat(),
        "respond_by": handoff.respond_by.isoformat() if handoff.respond_by else None,
        "outcome": handoff.outcome, "outcome_amount": handoff.outcome_amount, "outcome_reason": handoff.outcome_reason,
        "report_path": f"/handoffs/{handoff.id}", "report": handoff.report,
    }


def queue_webhook(session: Session, handoff: Handoff, event: str, *, now: datetime) -> WebhookDelivery | None:
    """Owe a delivery of this handoff event, if a CRM endpoint is configured."""
    url = get_setting(session, "webhook").get("url")
    if not url:
        return None
    session.flush()
    delivery = WebhookDelivery(
        handoff_id=handoff.id, event=event, url=url, status="pending", attempts=0, next_attempt_at=now,
        created_at=now, history=[],
        payload={"id": secrets.token_hex(12), "event": event, "occurred_at": now.isoformat(),
                 "handoff": handoff_payload(handoff)})
    session.add(delivery)
    return delivery


# --- delivering --------------------------------------------------------------------------------------

class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
        """POST and return (status code, start of the answer); raise OSError when nothing answered."""


class UrllibTransport:
    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http/https only)
                return response.status, response.read(500).decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(500).decode(errors="replace")


def _claim(session: Session, delivery_id: int, now: datetime) -> bool:
    claimed = session.execute(
        update(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now))
        .values(status="sending", lease_until=now + LEASE, attempts=WebhookDelivery.attempts + 1)
        .returning(WebhookDelivery.id)).scalars().all()
    session.commit()
    return bool(claimed)


def deliver(services, delivery_id: int, *, transport: Transport | None = None, timeout: float = 10.0) -> str:
    """Post one owed delivery. Returns delivered | skipped; raises WebhookError after recording a failure."""
    transport = transport or UrllibTransport()
    with services.sessions() as session:
        now = services.now()
        if not _claim(session, delivery_id, now):
            return "skipped"
        delivery = session.get(WebhookDelivery, delivery_id)
        secret = get_setting(session, "webhook").get("secret") or ""
        body_data = dict(delivery.payload)
        body_data["handoff"] = {**body_data["handoff"],
                                "report_url": services.config.base_url + body_data["handoff"]["report_path"]}
        body = json.dumps(body_data, sort_keys=True, separators=(",", ":"), default=str).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Nurture-Webhook/1",
                   "X-Nurture-Event": delivery.event, "X-Nurture-Delivery": delivery.payload["id"],
                   SIGNATURE_HEADER: sign(secret, int(now.timestamp()), body)}
        started = time.monotonic()
        try:
            code, answer = transport.post(delivery.url, body, headers, timeout)
            error = None if 200 <= code < 300 else f"HTTP {code}: {answer[:200]}"
        except (OSError, ValueError) as exc:
            code, error = None, f"no answer: {exc}"[:500]
        outcome = _record(delivery, now, code, error, elapsed_ms=int((time.monotonic() - started) * 1000))
        session.commit()
    if outcome != "delivered":
        log.warning("webhook %s to %s: %s (%s)", delivery_id, delivery.url, error, outcome)
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
