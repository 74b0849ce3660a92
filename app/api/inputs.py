"""What every API route reads from a request: the JSON object body, and row ids inside it."""
from __future__ import annotations

from flask import g, request

from app.domain.contacts.inputs import read_json
from app.domain.errors import ValidationError
from app.models.base import MAX_ROW_ID


def json_body() -> dict:
    """The body as a JSON object, read once per request; a body that is not one is refused naming why."""
    if "json_body" not in g:
        if not request.is_json:
            raise ValidationError("body", "send a JSON object with Content-Type: application/json")
        g.json_body = read_json(request.get_data(cache=True))
    if not isinstance(g.json_body, dict):
        raise ValidationError("body", "must be a JSON object")
    return g.json_body


def is_row_id(value) -> bool:
    """A JSON number that can be a row's id (true and false are not 1 and 0 here)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ROW_ID


def query_number(name: str, default: int, low: int, high: int) -> int:
    """A whole number from the query string; ASCII digits only and no longer than `high` ('²' and
    5,000 digits are refused here, not by int())."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(high)) and low <= int(raw) <= high):
        raise ValidationError(name, f"must be a whole number from {low} to {high}")
    return int(raw)
