"""Each API view declares its operation with `@operation(...)`: the pydantic models of its query, body
and answers. The same models validate the request here and make the OpenAPI document (app.api.openapi),
so what is documented is what is enforced.

Put `@operation` right above the view function, under `@require_api_key(...)`: the request is
authenticated first, then validated, then (for a POST with an Idempotency-Key) answered once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import request
from pydantic import BaseModel, ValidationError as SchemaError

from app.domain.errors import ValidationError

from .idempotency import idempotent
from .inputs import json_body


@dataclass(frozen=True)
class Raw:
    """A body or answer that is not JSON: its media type and JSON Schema (e.g. a binary image)."""

    media_types: tuple[str, ...]
    schema: dict = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    description: str = ""
    query: type[BaseModel] | None = None
    body: type[BaseModel] | Raw | None = None
    responses: dict[int, Any] = field(default_factory=dict)  # status → model, Raw, or None (no body)
    public: bool = False  # no API key needed
    yields: dict[str, str] = field(default_factory=dict)  # path parameter → the answer's field that fills it


def operation(summary: str, *, tag: str, query: type[BaseModel] | None = None,
              body: type[BaseModel] | Raw | None = None, responses: dict[int, Any] | None = None,
              description: str = "", public: bool = False, yields: dict[str, str] | None = None):
    """Record the operation on the view and validate the query and JSON body against its models."""
    op = Operation(summary=summary, tag=tag, description=description, query=query, body=body,
                   responses=responses or {200: None}, public=public, yields=yields or {})

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if query is not None:
                validate(query, request.args.to_dict(), strict=False)
            if isinstance(body, type):
                validate(body, json_body(), strict=True)
            if request.method == "POST":
                return idempotent(lambda: view(*args, **kwargs))
            return view(*args, **kwargs)
        wrapper.operation = op
        return wrapper
    return decorate


def validate(model: type[BaseModel], data: Any, *, strict: bool) -> BaseModel:
    """The model's first complaint becomes a ValidationError naming the field (e.g. events[3].type)."""
    try:
        return model.model_validate(data, strict=strict)
    except SchemaError as exc:
        problem = _first(exc.errors(include_url=False))
        raise ValidationError(field_name(problem["loc"]) or "body", _message(problem)) from None


def _first(problems: list[dict]) -> dict:
    """A name not accepted at all comes first; of the complaints about one value (one per member of a
    union: `true`, or a record whose `granted` is missing), the one that goes deepest says most."""
    forbidden = [p for p in problems if p["type"] == "extra_forbidden"]
    if forbidden:
        return forbidden[0]
    same = [p for p in problems if field_name(p["loc"]).startswith(field_name(problems[0]["loc"]))]
    return max(same, key=lambda p: len(field_name(p["loc"])))


def field_name(loc: tuple) -> str:
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        elif not _is_type_tag(part):
            name += f".{part}" if name else str(part)
    return name


def _is_type_tag(part: str) -> bool:
    # pydantic names the union member it tried (e.g. "int", "str", "ConsentEntry", "literal['a']"), not a field
    return part in {"int", "str", "float", "bool", "list", "dict", "none"} or "[" in part or part in _model_names()


def _model_names() -> set[str]:
    found, todo = set(), [BaseModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub.__name__)
            todo.append(sub)
    return found


def _message(problem: dict) -> str:
    kind = problem["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not accepted here"
    return problem["msg"][0].lower() + problem["msg"][1:]
