"""Contacts, consent, events, page views and forms: what comes in and what is answered."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .common import Answer, Body, Email, Id, OpenBody, Timestamp

Basis = Literal["consent", "legitimate_interest", "contract", "legal_obligation"]
Stage = Literal["new", "nurturing", "mql", "handed_off", "sal", "opportunity", "won", "rejected", "lost"]
EmailStatus = Literal["active", "unsubscribed", "bounced", "complained"]
Count = str | int  # a whole number, or its digits as text


class ConsentEntry(Body):
    granted: bool
    basis: Basis | None = None
    source: str | None = Field(None, max_length=200)
    at: Timestamp | None = Field(None, description="when it was given, with a time zone offset")


class ConsentIn(Body):
    """Each permission as true/false or a full record; a kind left out keeps its value."""

    email: bool | ConsentEntry = Field(None, description="permission to email")
    tracking: bool | ConsentEntry = Field(None, description="permission to track opens, clicks and visits")


class ConsentRequest(ConsentIn):
    consent: ConsentIn = Field(None, description="the same, wrapped (either form is accepted)")


class ContactIn(Body):
    """Upsert by email: fields left out keep their values."""

    email: Email = Field(description="the key: a contact with this address is updated, otherwise created")
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    industry: str | None = None
    company_size: Count | None = Field(None, description="employees, a whole number ≥ 0")
    budget: Count | None = Field(None, description="a whole number ≥ 0")
    timeline: Count | None = Field(None, description="months until purchase: 3, \"3 months\", \"6w\", \"now\"")
    timeline_months: Count | None = None
    country: str | None = Field(None, description="two-letter ISO 3166 code")
    timezone: str | None = Field(None, description="IANA time zone, e.g. Europe/Paris")
    source: str | None = None
    fields: dict[str, str | int | float | bool | None] = Field(None, description="custom fields")
    consent: ConsentIn = None


class ConsentOut(Answer):
    granted: bool
    basis: str | None
    source: str | None
    at: Timestamp | None


class Consents(Answer):
    email: ConsentOut
    tracking: ConsentOut


class TimelineEntry(Answer):
    id: int
    type: str
    at: str
    label: str
    machine: bool
    machine_reason: str | None


class ContactOut(Answer):
    id: int
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    industry: str | None
    company_size: int | None
    budget: int | None
    timeline_months: int | None
    country: str | None
    timezone: str | None
    source: str | None
    fields: dict[str, Any]
    persona: str | None = Field(description="the persona's slug")
    segment: str | None
    stage: Stage
    email_status: EmailStatus
    score: int
    grade: str
    score_reasons: list[Any]
    fit: dict[str, Any]
    consent: Consents
    timeline: list[TimelineEntry] | None = Field(None, description="latest events first (single contact only)")


class ContactPage(Answer):
    contacts: list[ContactOut]
    next: str | None = Field(description="the cursor of the next page; null on the last one")


class ContactQuery(BaseModel):
    persona: str | None = Field(None, description="a persona's slug")
    stage: Stage | None = None
    grade: Literal["A", "B", "C", "D"] | None = None
    email_status: EmailStatus | None = None
    updated_since: Timestamp | None = Field(None, description="only contacts changed at or after this time")
    q: str | None = Field(None, max_length=200, description="text in the email, name or company")
    cursor: str | None = Field(None, description="opaque; `next` from the previous page")
    limit: int = Field(50, ge=1, le=200, description="rows per page (at most 200)")


class ConsentAnswer(Answer):
    id: int
    consent: Consents


class Erased(Answer):
    status: Literal["erased"]
    id: int


class EventIn(OpenBody):
    type: str = Field(pattern=r"^[a-z][a-z0-9_]{1,49}$", description="lower-case letters, digits and _, e.g. page_view, demo_request")
    email: Email | None = Field(None, description="the contact's address (or give contact_id)")
    contact_id: Id | None = None
    url: str | None = Field(None, max_length=4000)
    properties: dict[str, Any] = Field(None)
    occurred_at: Timestamp | None = Field(None, description="default: now; never in the future")
    id: str | None = Field(None, min_length=1, max_length=150, description="your idempotency id: sent twice, stored once")


class EventBatchIn(Body):
    events: list[EventIn] = Field(min_length=1, max_length=1000)


class EventAccepted(Answer):
    status: Literal["accepted"]
    id: int
    contact_id: int


class EventDuplicate(Answer):
    status: Literal["duplicate"]
    message: str


class BatchAccepted(Answer):
    status: Literal["accepted"]
    stored: int
    duplicates: int
    contacts: int
    handed_off: int


class PageView(OpenBody):
    url: str = Field(max_length=2000, description="http(s) address")
    email: Email | None = None
    contact_id: Id | None = None
    token: str | None = None
    title: str | None = None
    seconds: float | None = Field(None, ge=0, le=86400)
    id: str | None = None


class PageViewsIn(Body):
    views: list[PageView] = Field(min_length=1)


class Queued(Answer):
    status: Literal["queued"]
    queued: int
    unknown: int


class FormIn(OpenBody):
    """The form's own fields, as its definition names them."""

    page: str | None = Field(None, description="the page the form was on")


class FormAnswer(Answer):
    status: Literal["ok", "ignored"]
    contact_id: int | None = None
    event_id: int | None = None
    created: bool | None = None
    reason: str | None = None
