"""The agreement, its evidence, the what-if replay and the QR codes."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .common import Answer, Body, OpenBody, Timestamp


class Window(BaseModel):
    since: Timestamp | None = Field(None, description="ISO 8601 time or date")
    until: Timestamp | None = Field(None, description="ISO 8601 time or date, after since")


class Since(BaseModel):
    since: Timestamp | None = Field(None, description="ISO 8601 time or date")


class AgreementIn(OpenBody):
    """The agreement as in agreement.yml (qualification, scoring, fit, segments, sla, reasons, …); sections
    left out keep their values. Validated whole: a 422 lists every problem in error.problems."""


class AgreementSaved(Answer):
    changed: bool
    agreement: dict[str, Any]


class WhatIfIn(Body):
    agreement: dict[str, Any] = Field(None, description="the proposal: qualification?, scoring?, fit?")
    since: Timestamp | None = None
    until: Timestamp | None = None


class QrIn(Body):
    campaign: int | str = Field(description="the campaign's slug or id")
    url: str = Field(description="a link of the campaign's emails or site")
    label: str | None = Field(None, max_length=200)


class QrCreated(Answer):
    id: str
    campaign: str
    url: str
    scan_url: str
    svg: str
    png: str
