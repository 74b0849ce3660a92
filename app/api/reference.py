"""The OpenAPI document laid out for the reference page (/api/v1/docs): operations grouped by tag,
each schema as a table of its properties, types written out with links to the schemas they name."""
from __future__ import annotations

import json
from typing import Any

REF = "#/components/schemas/"


def reference_sections(spec: dict[str, Any]) -> dict[str, Any]:
    tags: dict[str, list] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            tags.setdefault(op["tags"][0], []).append(_operation(spec, path, method, op))
    schemas = [{"name": name, "description": schema.get("description", ""), "rows": properties(schema)}
               for name, schema in sorted(spec["components"]["schemas"].items())]
    return {"tags": sorted(tags.items()), "schemas": schemas,
            "errors": sorted(spec["components"]["responses"].items())}


def _operation(spec, path: str, method: str, op: dict) -> dict[str, Any]:
    parameters = []
    for p in op.get("parameters", []):
        if "$ref" in p:
            p = spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[-1]]
        parameters.append({"name": p["name"], "in": p["in"], "required": p.get("required", False),
                           "type": type_of(p.get("schema", {})), "description": p.get("description", "")})
    body = None
    for media_type, content in op.get("requestBody", {}).get("content", {}).items():
        body = {"media_type": media_type, "type": type_of(content.get("schema", {}))}
    responses = []
    for status, answer in op["responses"].items():
        if "$ref" in answer:
            continue  # the shared error answers are listed once
        content = answer.get("content", {})
        responses.append({"status": status, "description": answer.get("description", ""),
                          "types": [(t, type_of(c.get("schema", {}))) for t, c in content.items()]})
    return {"id": f"{method}-{path}", "method": method.upper(), "path": path, "summary": op.get("summary", ""),
            "description": op.get("description", ""), "scopes": op.get("x-scopes"), "public": op.get("security") == [],
            "parameters": parameters, "body": body, "responses": responses}


def properties(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [{"name": name, "type": type_of(prop), "required": name in required,
             "description": prop.get("description", "")}
            for name, prop in schema.get("properties", {}).items()]


def type_of(schema: dict[str, Any]) -> list[dict[str, str | None]]:
    """The type as pieces of text, each with the schema it links to (or None)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        return [{"text": name, "ref": name}]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            pieces: list[dict] = []
            for i, option in enumerate(schema[key]):
                pieces += ([{"text": " | ", "ref": None}] if i else []) + type_of(option)
            return pieces
    if "enum" in schema:
        return [{"text": " | ".join(json.dumps(v) for v in schema["enum"]), "ref": None}]
    if "const" in schema:
        return [{"text": json.dumps(schema["const"]), "ref": None}]
    kind = schema.get("type", "any")
    if kind == "array":
        return type_of(schema.get("items", {})) + [{"text": "[]", "ref": None}]
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return [{"text": "object of ", "ref": None}] + type_of(schema["additionalProperties"])
    text = kind if isinstance(kind, str) else " | ".join(kind)
    if schema.get("format"):
        text += f" ({schema['format']})"
    return [{"text": text, "ref": None}]
