"""Shapes shared by every part of the API: the error, times, open objects."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Email = Annotated[str, Field(max_length=320, json_schema_extra={"format": "email"})]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class Body(BaseModel):
    """A request body: names it does not know are refused."""

    model_config = ConfigDict(extra="forbid")


class OpenBody(BaseModel):
    """A request body whose further names are the domain's to judge."""

    model_config = ConfigDict(extra="allow")


class Answer(BaseModel):
    """An answer; clients should ignore names they do not know (new ones may be added)."""

    model_config = ConfigDict(extra="allow")


class OpenObject(Answer):
    """A JSON object whose keys are described in the operation's text."""


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable: invalid, not_found, conflict, unauthorized, forbidden, throttled, …")
    message: str = Field(description="what went wrong, for a person")
    field: str | None = Field(None, description="the input at fault, e.g. email or events[3].type")
    problems: list[Any] | None = Field(None, description="every problem, when a document is validated whole")
    model_config = ConfigDict(extra="allow")


class Error(BaseModel):
    """Every 4xx answer of the API."""

    error: ErrorDetail


class Status(Answer):
    status: str
    message: str | None = None


class Paging(BaseModel):
    """Cursor paging: pass `next` of one page as `cursor` to get the following one."""

    cursor: str | None = Field(None, description="opaque; `next` from the previous page")
    limit: int = Field(50, ge=1, le=200, description="rows per page (at most 200)")
