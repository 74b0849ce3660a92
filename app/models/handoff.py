"""Handoffs to sales and what happened to each (assignments, escalations, feedback)."""
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


class Outcome(StrEnum):
    OPPORTUNITY = "opportunity"
    WON = "won"
    LOST = "lost"


class Handoff(Base):
    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_rep", "rep_id", "created_at"),
        Index("ix_handoffs_status", "status", "respond_by"),
        Index("ix_handoffs_contact", "contact_id"),
        Index("ix_handoffs_assigned", "rep_id", "assigned_at"),
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
    # When the current rep received it (a queued lead is assigned later); weekly caps count these.
    assigned_at: Mapped[datetime | None]
    respond_by: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reassignments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    outcome: Mapped[str | None] = mapped_column(String(20))  # opportunity | won | lost
    outcome_amount: Mapped[int | None] = mapped_column(Integer)
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime | None]
    recycled_at: Mapped[datetime | None]

    contact = relationship("Contact")
    rep = relationship("User", foreign_keys=[rep_id])
    escalated_to = relationship("User", foreign_keys=[escalated_to_id])


class HandoffEvent(Base):
    """What happened to a handoff, with who or what caused it: the SLA and assignment audit trail."""

    __tablename__ = "handoff_events"
    __table_args__ = (Index("ix_handoff_events_handoff", "handoff_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    # assigned | queued | released | escalated | reassigned | accepted | rejected | outcome | recycled
    kind: Mapped[str] = mapped_column(String(20))
    from_rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(500), default="system")  # may name an API key and its user
    created_at: Mapped[datetime]


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
    # Who gave it: "user:<id>" in the web UI, "key <name> (<prefix>) for user <email>" through the API.
    actor: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]

    user = relationship("User")
