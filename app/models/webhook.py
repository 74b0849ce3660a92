"""Webhook endpoints (a URL, its signing secret, the event types it takes) and the deliveries owed to them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base


class WebhookEndpoint(Base):
    """Where a CRM takes events. The secret is shown once; private targets need `allow_private`."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_private: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One signed POST of one event to one endpoint, retried with backoff; every attempt is kept in `history`."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
                      Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    # What the payload names, so erasing a contact can scrub it.
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(String(50), default="handoff.assigned", server_default="handoff.assigned")
    url: Mapped[str] = mapped_column(Text)  # where the last attempt went (the endpoint's URL at the time)
    payload: Mapped[dict] = mapped_column()
    # pending | sending | delivered | failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    history: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    endpoint = relationship("WebhookEndpoint")
