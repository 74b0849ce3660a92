"""The OpenAPI 3.1 document of /api/v1, made from the routes themselves: every rule under the prefix,
its view's `@operation` (app.api.spec: the pydantic models that also validate the request) and the
scopes `@require_api_key` asks for. Served at /api/v1/openapi.json and rendered at /api/v1/docs."""
from __future__ import annotations

import re
from typing import Any

import markdown
from flask import Flask, current_app, jsonify, render_template
from markupsafe import Markup
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.models.base import MAX_ROW_ID

from . import bp
from .reference import reference_sections
from .schemas.common import Answer, Error
from .spec import Operation, Raw, operation

PREFIX = "/api/v1"
METHODS = ("get", "put", "post", "patch", "delete")
PATH_PARAMETER = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
CONVERTERS = {"int": {"type": "integer", "minimum": 0, "maximum": MAX_ROW_ID}, "default": {"type": "string"},
              "path": {"type": "string"}}
ERRORS = {"400": "The request could not be read", "401": "No API key, or an unknown or revoked one",
          "403": "The key lacks the scope, or the user named may not act", "404": "Not found",
          "409": "The object's state does not allow it, or a request with this Idempotency-Key is still running",
          "422": "Invalid input: `error.field` names the input at fault",
          "429": "Too many requests: wait the seconds in Retry-After", "4XX": "Any other refusal, in the same shape"}
DESCRIPTION = """\
JSON over HTTPS. Authenticate with `Authorization: Bearer <key>` (`nurture apikey create`); each
operation names the scope its key needs (`admin` holds them all).

Every refusal is a 4xx whose body is `{"error": {"code", "message", "field"?}}`.

Every POST accepts an `Idempotency-Key` header (1–255 visible characters). A repeat with the same key
from the same API key within 24 hours answers the stored status and body (with
`Idempotent-Replayed: true`) without doing the work again; the same key with a different request is
refused with 422.

Requests are limited per API key (per address without one); past the limit the answer is 429 with
`Retry-After` in seconds. Lists page with an opaque `cursor`: pass the `next` of one page to get the
following one."""


def document(app: Flask) -> dict[str, Any]:
    """The document for `app`, built once (routes do not change after start)."""
    cached = app.extensions.get("nurture_openapi")
    if cached is None:
        cached = app.extensions["nurture_openapi"] = build_document(app)
    return cached


def api_rules(app: Flask):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule == PREFIX or rule.rule.startswith(PREFIX + "/"):
            yield rule


def undocumented(app: Flask) -> list[str]:
    """Rules under /api/v1 whose view declares no operation (the test suite keeps this empty)."""
    return [f"{rule.rule} ({rule.endpoint})" for rule in api_rules(app)
            if not isinstance(getattr(app.view_functions[rule.endpoint], "operation", None), Operation)]


def build_document(app: Flask) -> dict[str, Any]:
    found = []
    for rule in api_rules(app):
        view = app.view_functions[rule.endpoint]
        op = getattr(view, "operation", None)
        if isinstance(op, Operation):
            for method in sorted(m.lower() for m in rule.methods if m.lower() in METHODS):
                found.append((rule, method, op, getattr(view, "required_scopes", None)))
    refs, components = _schemas(found)
    paths: dict[str, dict] = {}
    for rule, method, op, scopes in found:
        path = PATH_PARAMETER.sub(lambda m: "{" + m["name"] + "}", rule.rule)
        paths.setdefault(path, {})[method] = _operation(rule, method, op, scopes, refs)
    _add_links(paths, found)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Nurture API", "version": "1", "description": DESCRIPTION},
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "an API key from `nurture apikey create`"}},
            "responses": {code: _error_response(text) for code, text in ERRORS.items()},
            "parameters": {"IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": "replays within 24 h answer the stored result without doing the work again",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"}}},
        },
    }


def _add_links(paths: dict, found) -> None:
    """OpenAPI links: an answer that `yields` an id leads to every operation taking it in its path, which
    is what schemathesis follows in its stateful run (create a contact, then read, export, erase it)."""
    takers = [(rule.endpoint, method, {m["name"] for m in PATH_PARAMETER.finditer(rule.rule)}, op)
              for rule, method, op, _ in found]
    for rule, method, op, _ in found:
        path = PATH_PARAMETER.sub(lambda m: "{" + m["name"] + "}", rule.rule)
        for status, answer in paths[path][method]["responses"].items():
            if not status.startswith("2") or not op.yields:
                continue
            links = {}
            for endpoint, other_method, names, _other in takers:
                if names and names <= set(op.yields):
                    operation_id = _operation_id(endpoint, other_method, found)
                    links[operation_id] = {"operationId": operation_id, "parameters": {
                        name: f"$response.body#/{op.yields[name]}" for name in names}}
            if links:
                answer["links"] = links


def _operation_id(endpoint: str, method: str, found) -> str:
    methods = {m for rule, m, _op, _s in found if rule.endpoint == endpoint}
    return endpoint.split(".")[-1] + ("" if len(methods) == 1 else f"_{method}")


def _models(op: Operation):
    if isinstance(op.body, type):
        yield op.body, "validation"
    for answer in op.responses.values():
        if isinstance(answer, type) and issubclass(answer, BaseModel):
            yield answer, "serialization"


def _schemas(found) -> tuple[dict, dict]:
    wanted = {(Error, "serialization"): None}
    for _rule, _method, op, _scopes in found:
        wanted.update(dict.fromkeys(_models(op)))
    refs, top = models_json_schema(list(wanted), ref_template="#/components/schemas/{model}")
    return refs, top.get("$defs", {})


def _operation(rule, method: str, op: Operation, scopes, refs) -> dict[str, Any]:
    body: dict[str, Any] = {
        "operationId": rule.endpoint.split(".")[-1] + ("" if len(rule.methods - {"HEAD", "OPTIONS"}) == 1 else f"_{method}"),
        "summary": op.summary, "tags": [op.tag], "parameters": _parameters(rule, op, method),
        "responses": {str(status): _answer(answer, refs) for status, answer in op.responses.items()},
    }
    if op.description:
        body["description"] = op.description
    if isinstance(op.body, type):
        body["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[(op.body, "validation")]}}}
    elif isinstance(op.body, Raw):
        body["requestBody"] = {"required": True, "content": {t: {"schema": op.body.schema} for t in op.body.media_types}}
    codes = ["400", "404", "422", "429", "4XX"] + ([] if op.public else ["401", "403"]) + (["409"] if method == "post" else [])
    for code in sorted(codes):
        body["responses"].setdefault(code, {"$ref": f"#/components/responses/{code}"})
    if op.public:
        body["security"] = []
    else:
        body["security"] = [{"bearerAuth": list(scopes or ())}]
        body["x-scopes"] = list(scopes or ())
        needs = " or ".join(f"`{s}`" for s in scopes) if scopes else "any valid key"
        body["description"] = (body.get("description", "") + f"\n\nScope: {needs}.").strip()
    return body


def _parameters(rule, op: Operation, method: str) -> list[dict]:
    out = []
    for match in PATH_PARAMETER.finditer(rule.rule):
        schema = CONVERTERS.get(match["converter"] or "default", {"type": "string"})
        out.append({"name": match["name"], "in": "path", "required": True, "schema": dict(schema)})
    if op.query is not None:
        schema = op.query.model_json_schema(mode="validation")
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop)
            description = prop.pop("description", None)
            prop.pop("title", None)
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description:
                param["description"] = description
            out.append(param)
    if method == "post":
        out.append({"$ref": "#/components/parameters/IdempotencyKey"})
    return out


def _answer(answer, refs) -> dict[str, Any]:
    if answer is None:
        return {"description": "done"}
    if isinstance(answer, Raw):
        return {"description": "the file", "content": {t: {"schema": answer.schema} for t in answer.media_types}}
    return {"description": answer.__doc__.strip().splitlines()[0] if answer.__doc__ else answer.__name__,
            "content": {"application/json": {"schema": refs[(answer, "serialization")]}}}


def _error_response(text: str) -> dict[str, Any]:
    answer = {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if text.startswith("Too many"):
        answer["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    return answer


class OpenApiDocument(Answer):
    """An OpenAPI 3.1 document"""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


@bp.get("/openapi.json")
@operation("This document: every operation, its schemas and scopes", tag="reference", public=True,
           responses={200: OpenApiDocument})
def openapi_document():
    return jsonify(document(current_app))


@bp.get("/docs")
@operation("The API reference as a web page, rendered from the same document", tag="reference", public=True,
           responses={200: Raw(("text/html",))})
def reference_page():
    spec = document(current_app)
    return render_template("api/reference.html", spec=spec, sections=reference_sections(spec), prose=_prose)


def _prose(text: str) -> Markup:
    """The document's own descriptions are Markdown (as OpenAPI intends); they are ours, not input."""
    return Markup(markdown.markdown(text or ""))
