"""Personas, segments, campaigns, steps, enrollments and suppressions."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .common import Answer, Body, Id, Timestamp

CampaignStatus = Literal["draft", "active", "paused", "archived"]
CampaignKind = Literal["drip", "autoresponder", "recycle"]
EnrollmentStatus = Literal["active", "completed", "exited", "stopped"]


class PersonaOut(Answer):
    slug: str
    name: str
    description: str | None
    priority: int
    active: bool
    rules: dict[str, Any] | None


class PersonaList(Answer):
    personas: list[PersonaOut]


class SegmentOut(Answer):
    slug: str
    name: str
    priority: int
    rules: dict[str, Any] | None


class SegmentList(Answer):
    segments: list[SegmentOut]


class CampaignQuery(BaseModel):
    status: CampaignStatus | None = None
    kind: CampaignKind | None = None


class CampaignOut(Answer):
    id: int
    slug: str
    name: str
    description: str | None
    kind: CampaignKind
    status: CampaignStatus
    persona: str | None = Field(description="the persona's slug")
    trigger_event: str | None
    timezone: str
    send_window: dict[str, Any] | None
    exit_goals: list[Any] | None


class StepVersionOut(Answer):
    version: int
    subject: str
    preheader: str | None
    layout: str
    delay_seconds: int
    conditions: dict[str, Any] | None
    body_markdown: str
    created_at: Timestamp


class StepOut(Answer):
    id: int
    campaign: str
    key: str
    position: int
    active: bool
    current_version: int | None
    versions: list[StepVersionOut] = Field(description="newest first")


class CampaignDetail(CampaignOut):
    steps: list[StepOut]


class CampaignList(Answer):
    campaigns: list[CampaignOut]


class EnrollmentIn(Body):
    contact_id: Id
    campaign: int | str = Field(description="the campaign's id or slug")


class EnrollmentOut(Answer):
    id: int
    contact_id: int
    campaign: str
    status: EnrollmentStatus
    cycle: int
    next_position: int
    next_due_at: Timestamp | None
    last_sent_at: Timestamp | None
    source: str
    exit_reason: str | None
    enrolled_at: Timestamp
    ended_at: Timestamp | None


class EnrollmentList(Answer):
    enrollments: list[EnrollmentOut]


class SuppressionOut(Answer):
    id: int
    email_hash: str = Field(description="a salted SHA-256 of the address; the address itself is not kept")
    reason: str
    created_at: Timestamp


class SuppressionPage(Answer):
    suppressions: list[SuppressionOut]
    next: str | None


class PageQuery(BaseModel):
    cursor: str | None = Field(None, description="opaque; `next` from the previous page")
    limit: int = Field(50, ge=1, le=200, description="rows per page (at most 200)")
