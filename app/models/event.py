"""Engagement events (opens, clicks, page views, form fills, QR scans, forwards, unsubscribes,
bounces…), printed QR codes, and the hashed suppression list that erasure leaves behind."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
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
        Index("ix_events_message", "message_id"),
        Index("ix_events_campaign", "campaign_id", "type"),
        # Only producers that may retry set a key; indexing every other event's NULL costs each insert.
        Index("uq_events_dedupe_key", "dedupe_key", unique=True, postgresql_where=text("dedupe_key IS NOT NULL"),
              sqlite_where=text("dedupe_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for anonymous engagement, e.g. a scan of a printed QR code at a trade show.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime]
    # Messages, campaigns and steps are never deleted, so these carry no foreign key: each key
    # check locks the parent row, and a send, open or click is an event of the same campaign and step.
    message_id: Mapped[int | None] = mapped_column(Integer)
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    step_id: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict] = mapped_column(default=dict)
    # Privacy-proxy opens and scanner clicks are kept and shown, never scored.
    is_machine: Mapped[bool] = mapped_column(Boolean, default=False)
    machine_reason: Mapped[str | None] = mapped_column(String(200))
    user_agent: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(50), default="api")
    # Set by producers that may retry, so a retried write records nothing twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class QrCode(Base):
    """A printed code for one campaign link: scans are recorded as qr_scan events of that campaign."""

    __tablename__ = "qr_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    # 128 random bits, what the printed URL's token names.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(200), default="")
    scans: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class Suppression(Base):
    """What erasure keeps of an address: its hash, so no import or API call can add it again."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(100), default="erased")
    created_at: Mapped[datetime]
