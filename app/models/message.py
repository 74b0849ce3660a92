"""One row per email owed or sent: the database is the record of what is owed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, StrEnum


class MessageKind(StrEnum):
    NURTURE = "nurture"
    AUTORESPONDER = "autoresponder"
    NOTIFICATION = "notification"  # to a sales rep
    TEST = "test"                  # a marketer's test send of a step: untracked, never counted


class MessageStatus(StrEnum):
    PENDING = "pending"        # owed; a job may or may not be queued, a lane may hold it (claim)
    SENDING = "sending"        # being handed to SMTP right now
    SENT = "sent"              # the server answered 250
    FAILED = "failed"          # gave up after retries, or permanently refused
    BOUNCED = "bounced"        # the server refused the address for good (5.1.x)
    SUPPRESSED = "suppressed"  # the contact could no longer receive it at send time
    SKIPPED = "skipped"        # a step condition was not met
    UNKNOWN = "unknown"        # may have been accepted (worker died or no answer after the data); never resent silently


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_id"),
        Index("ix_messages_status", "status", "next_attempt_at"),
        Index("ix_messages_contact", "contact_id", "created_at"),
        # Only rep notices carry a key; indexing the others' NULLs would cost every write of every message.
        Index("uq_messages_dedupe_key", "dedupe_key", unique=True, postgresql_where=text("dedupe_key IS NOT NULL"),
              sqlite_where=text("dedupe_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # 128 random bits: what tracking tokens refer to, never the row id or an address.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[MessageKind] = mapped_column(String(20), default=MessageKind.NURTURE)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id", ondelete="SET NULL"))
    # Campaigns, steps and their versions are archived, never deleted, so these three carry no
    # foreign key: a key check locks the parent row on every insert, and every message is one.
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    step_id: Mapped[int | None] = mapped_column(Integer)
    step_version_id: Mapped[int | None] = mapped_column(Integer)
    # For messages not tied to a step (rep notifications): makes the same notice impossible twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    to_email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500), default="")
    # Rep notifications are rendered from their handoff at send time.
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id", ondelete="SET NULL"))
    status: Mapped[MessageStatus] = mapped_column(String(20), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]  # last handed to the queue; the sweeper re-queues stale ones
    lease_until: Mapped[datetime | None]  # only rows left 'sending' by versions before the send journal
    # The claim holding it (shared with the claiming job's send lanes); NULL when free. Claiming
    # leaves the indexed status alone, so on PostgreSQL a claim is a heap-only update (fillfactor 50).
    claim: Mapped[int | None] = mapped_column(BigInteger)
    message_id_header: Mapped[str | None] = mapped_column(String(300))
    smtp_response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    contact = relationship("Contact")
    step_version = relationship("StepVersion", primaryjoin="foreign(Message.step_version_id) == StepVersion.id")
    campaign = relationship("Campaign", primaryjoin="foreign(Message.campaign_id) == Campaign.id")
    handoff = relationship("Handoff")


class OutboxEmail(Base):
    """What the embedded sender 'sent': the full message, shown in the web UI instead of delivered."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_created", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    mail_from: Mapped[str] = mapped_column(String(320))
    to_email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    raw: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class DomainThrottle(Base):
    """A destination domain that asked us to slow down or refused us on policy: paused until a time."""

    __tablename__ = "domain_throttles"

    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    paused_until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]


class Alert(Base):
    """Something an admin must look at (a policy block, a paused domain); shown in status and the UI."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_open", "resolved_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class SendLane(Base):
    """One SMTP connection's run through its share of a batch: the journal that makes a lane's
    progress durable with one small update per message instead of writes to every message row.

    On PostgreSQL `message_ids` is stored apart from the row (TOAST), so the frequent position
    updates copy a narrow row that stays on its page (migration 0009).

    `position` is the index in `message_ids` of the message being handed over now. If the lane's
    worker dies, the sweeper settles the lane when its lease ends: messages before that position
    still claimed were accepted (250), the one at it is unknown, the ones after it go back to pending.
    """

    __tablename__ = "send_lanes"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_ids: Mapped[list] = mapped_column()
    position: Mapped[int] = mapped_column(Integer, default=-1)
    claim: Mapped[int] = mapped_column(BigInteger, server_default="0")  # the claim its messages carry
    lease_until: Mapped[datetime]
    worker: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
