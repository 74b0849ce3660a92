"""Webhook endpoints and their deliveries."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .common import Answer, Body, Timestamp

EventType = Literal["contact.created", "contact.unsubscribed", "message.bounced", "lead.qualified", "handoff.created",
                    "handoff.assigned", "handoff.escalated", "handoff.accepted", "handoff.rejected", "outcome.recorded"]
DeliveryStatus = Literal["pending", "sending", "delivered", "failed"]
URL_HELP = ("an http or https URL, without user:password@; a private or loopback address only with allow_private "
            "(link-local never)")
AllowPrivate = Field(description="may reach loopback and private-network addresses (checked at every delivery)")


class WebhookIn(Body):
    name: str = Field(min_length=1, max_length=100, description="unique, e.g. salesforce")
    url: str = Field(max_length=2000, description=URL_HELP)
    events: list[EventType] = Field(min_length=1, description="the event types it takes")
    allow_private: bool = Field(False, description=AllowPrivate.description)
    active: bool = True
    secret: str | None = Field(None, min_length=16, max_length=200,
                               description="the signing secret (default: generated, and answered this once)")


class WebhookChange(Body):
    name: str = Field(None, min_length=1, max_length=100)
    url: str = Field(None, max_length=2000, description=URL_HELP)
    events: list[EventType] = Field(None, min_length=1)
    allow_private: bool = Field(None, description=AllowPrivate.description)
    active: bool = Field(None, description="an inactive endpoint gets no new events; owed ones are still tried")


class DeliveryCounts(Answer):
    pending: int
    sending: int
    delivered: int
    failed: int


class WebhookOut(Answer):
    """A webhook endpoint (its secret only in the answer that made it)"""

    id: int
    name: str
    url: str
    events: list[str]
    active: bool
    allow_private: bool
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp
    deliveries: DeliveryCounts | None = Field(None, description="in the list: deliveries by status")
    secret: str | None = Field(None, description="only when just made: keep it, it is not shown again")


class WebhookList(Answer):
    """Every endpoint, and the event types there are"""

    webhooks: list[WebhookOut]
    event_types: dict[str, str] = Field(description="each event type and when it is sent")


class NewSecret(Answer):
    """A new signing secret, shown this once"""

    id: int
    secret: str


class Attempt(Answer):
    attempt: int | None
    at: Timestamp
    code: int | None = Field(description="the receiver's HTTP status; null when nothing answered or the target was refused")
    error: str | None
    ms: int | None = None


class DeliveryOut(Answer):
    """One event owed to one endpoint, with every attempt"""

    id: int
    delivery_id: str | None = Field(description="the X-Nurture-Delivery header: the same on every retry and redelivery")
    event: str
    status: DeliveryStatus
    attempts: int
    response_code: int | None
    last_error: str | None
    created_at: Timestamp
    next_attempt_at: Timestamp | None
    delivered_at: Timestamp | None
    contact_id: int | None
    handoff_id: int | None
    history: list[Attempt]


class DeliveryPage(Answer):
    """Deliveries, newest first"""

    deliveries: list[DeliveryOut]
    next: str | None = Field(description="the cursor of the next page; null on the last one")


class DeliveryQuery(BaseModel):
    status: DeliveryStatus | None = None
    cursor: str | None = Field(None, description="opaque; `next` from the previous page")
    limit: int = Field(50, ge=1, le=200, description="rows per page (at most 200)")
