"""Engagement events: opens, clicks, page views, form fills, unsubscribes, bounces…"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class EventType:
    """The known types; the API accepts others matching [a-z_]+ for custom signals."""

    EMAIL_SENT = "email_sent"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    PAGE_VIEW = "page_view"
    FORM_SUBMITTED = "form_submitted"
    SIGN_UP = "sign_up"
    CONTENT_DOWNLOAD = "content_download"
    DEMO_REQUEST = "demo_request"
    QR_SCAN = "qr_scan"
    FORWARD = "forward"
    REPLY = "reply"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_contact", "contact_id", "occurred_at"),
        Index("ix_events_step", "step_id", "type"),
        Index("ix_events_message", "message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime]
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id", ondelete="SET NULL"))
    url: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict] = mapped_column(default=dict)
    # Privacy-proxy opens and scanner clicks are kept and shown, never scored.
    is_machine: Mapped[bool] = mapped_column(Boolean, default=False)
    machine_reason: Mapped[str | None] = mapped_column(String(200))
    user_agent: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(50), default="api")
    # Set by producers that may retry, so a retried write records nothing twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
