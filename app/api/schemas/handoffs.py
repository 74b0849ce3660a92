"""Handoffs and sales' answers on behalf of a named user."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .common import Answer, Body, Timestamp

User = Field(description="the user acting, by email: the assigned rep, a sales manager or an admin")
HandoffStatus = Literal["pending", "accepted", "rejected", "escalated", "queued"]


class HandoffQuery(BaseModel):
    status: HandoffStatus | None = None
    rep: str | None = Field(None, description="a rep's email")
    limit: int = Field(100, ge=1, le=1000)


class DecisionIn(Body):
    user: str = User
    decision: Literal["accept", "reject"]
    rating: int | None = Field(None, ge=1, le=5)
    reasons: list[str] = Field(None, description="from the agreement's accept or reject reasons")
    comment: str = Field(None, max_length=5000)


class FeedbackIn(Body):
    user: str = User
    rating: int | None = Field(None, ge=1, le=5)
    reasons: list[str] = Field(None)
    comment: str = Field(None, max_length=5000)


class OutcomeIn(Body):
    user: str = User
    outcome: Literal["opportunity", "won", "lost"]
    amount: int | None = Field(None, ge=0, le=10**12, description="a won deal's amount")
    reason: str | None = Field(None, description="a lost deal's reason, from the agreement's list")
    comment: str = Field(None, max_length=5000)


class RecycleIn(Body):
    user: str = User


class Rep(Answer):
    id: int
    email: str
    name: str | None


class FeedbackOut(Answer):
    decision: str
    rating: int | None
    reasons: list[Any] | None
    comment: str | None
    user: str | None
    at: Timestamp


class HandoffEventOut(Answer):
    kind: str
    detail: Any
    actor: str | None
    at: Timestamp


class HandoffOut(Answer):
    id: int
    contact_id: int
    status: HandoffStatus
    reason: str | None
    assignment: Any
    score: int | None
    grade: str | None
    rep: Rep | None
    created_at: Timestamp
    assigned_at: Timestamp | None
    respond_by: Timestamp | None
    responded_at: Timestamp | None
    escalated_at: Timestamp | None
    escalated_to: str | None
    reassignments: int | None
    outcome: str | None
    outcome_amount: int | None
    outcome_reason: str | None
    recycled_at: Timestamp | None
    report: dict[str, Any] | None
    feedback: list[FeedbackOut] | None = Field(None, description="single handoff only")
    events: list[HandoffEventOut] | None = Field(None, description="single handoff only: the audit trail")


class HandoffList(Answer):
    handoffs: list[HandoffOut]
