"""The OpenAPI document is made from the routes and the schemas that validate them, and the reference
page is rendered from it."""
from __future__ import annotations

import re

import pytest

from app.api.openapi import api_rules, undocumented

PATH_PARAMETER = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>")


def test_every_api_route_is_documented(app):
    """A new /api/v1 route without @operation fails here, so the document never forgets one."""
    assert undocumented(app) == []


def test_the_document_lists_every_operation_with_its_scope(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"]}
    for rule in api_rules(app):
        path = PATH_PARAMETER.sub(r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            op = spec["paths"][path][method.lower()]
            view = app.view_functions[rule.endpoint]
            if op["security"] == []:
                assert rule.rule in ("/api/v1/openapi.json", "/api/v1/docs")
                continue
            scopes = list(getattr(view, "required_scopes", ()))
            assert op["security"] == [{"bearerAuth": scopes}] and op["x-scopes"] == scopes, rule.rule
            assert op["responses"]["401"] == {"$ref": "#/components/responses/401"}
            assert any(code.startswith("2") for code in op["responses"]), rule.rule


def test_errors_and_bodies_are_described_by_the_schemas_that_check_them(client, api):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    contact_in = spec["paths"]["/api/v1/contacts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body = schemas[contact_in["$ref"].rsplit("/", 1)[-1]]
    assert body["required"] == ["email"] and body["additionalProperties"] is False
    assert "company_size" in body["properties"] and "favourite_colour" not in body["properties"]
    refused = api.post("/api/v1/contacts", json={"email": "a@b.example", "favourite_colour": "blue"})
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "favourite_colour"
    decision = schemas["DecisionIn"]["properties"]["decision"]
    assert decision["enum"] == ["accept", "reject"]


@pytest.mark.parametrize("payload, field", [
    ({"email": "a@b.example", "consent": {"email": {"granted": "yes"}}}, "consent.email.granted"),
    ({"email": "a@b.example", "company": 7}, "company"),
    ({"email": ["a@b.example"]}, "email"),
])
def test_a_body_the_schema_refuses_names_the_field(api, payload, field):
    response = api.post("/api/v1/contacts", json=payload)
    assert response.status_code == 422 and response.get_json()["error"]["field"] == field


def test_the_reference_page_is_rendered_from_the_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<script" not in html and "http://" not in html.replace("http://localhost", "")
    for path in spec["paths"]:
        assert f"<code>{path}</code>" in html
    assert 'id="schema-ContactOut"' in html and "Idempotency-Key" in html
