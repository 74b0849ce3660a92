"""Handoffs to sales, sales' feedback, and the CRM webhook deliveries."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, StrEnum


class HandoffStatus(StrEnum):
    PENDING = "pending"      # waiting for the rep to accept or reject
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ESCALATED = "escalated"  # SLA missed, sent to the manager
    QUEUED = "queued"        # over the rep's cap, waiting for room


class Handoff(Base):
    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_rep", "rep_id", "created_at"),
        Index("ix_handoffs_status", "status", "respond_by"),
        Index("ix_handoffs_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[HandoffStatus] = mapped_column(String(20), default=HandoffStatus.PENDING)
    reason: Mapped[str] = mapped_column(String(200))  # e.g. "score 112 ≥ 100 and grade A"
    assignment: Mapped[str] = mapped_column(String(50), default="round_robin")
    score: Mapped[int] = mapped_column(Integer)
    grade: Mapped[str] = mapped_column(String(1))
    report: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    respond_by: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))  # opportunity | won | lost
    outcome_amount: Mapped[int | None] = mapped_column(Integer)
    outcome_reason: Mapped[str | None] = mapped_column(Text)

    contact = relationship("Contact")
    rep = relationship("User")


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_handoff", "handoff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(20))  # accept | reject | outcome | comment
    rating: Mapped[int | None] = mapped_column(Integer)
    reasons: Mapped[list] = mapped_column(default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]

    user = relationship("User")


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
