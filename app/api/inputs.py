"""What every API route reads from a request: the JSON object body, and row ids inside it."""
from __future__ import annotations

from flask import request

from app.domain.errors import ValidationError
from app.models.base import MAX_ROW_ID


def json_body() -> dict:
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationError("body", "send a JSON object with Content-Type: application/json")
    if not isinstance(data, dict):
        raise ValidationError("body", "must be a JSON object")
    return data


def is_row_id(value) -> bool:
    """A JSON number that can be a row's id (true and false are not 1 and 0 here)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ROW_ID
