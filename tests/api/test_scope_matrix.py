"""Every API endpoint × every kind of key: no key and a revoked key get 401, a key without the endpoint's
scope 403 naming it, a key with it (or admin) gets past the door (2xx, or a 4xx about the request).
The endpoints come from the Flask url_map, so a new one without a declared scope fails here."""
from __future__ import annotations

import re

import pytest

from app.domain.contacts.api_keys import SCOPES, issue_api_key, revoke_api_key

# The scopes chosen for these endpoints (README, API keys and scopes). Endpoints not listed follow the
# rules below: a GET needs read (or admin), any other method a scope that writes.
DECIDED = {
    ("PUT", "/api/v1/agreement"): "campaigns:manage",
    ("POST", "/api/v1/reports/whatif"): "campaigns:manage",
    ("POST", "/api/v1/qr"): "campaigns:manage",
    ("POST", "/api/v1/contacts"): "contacts:write",
    ("DELETE", "/api/v1/contacts/<int:contact_id>"): "contacts:write",
    ("POST", "/api/v1/contacts/<int:contact_id>/consent"): "contacts:write",
    ("POST", "/api/v1/events"): "contacts:write",
    ("POST", "/api/v1/events/batch"): "contacts:write",
    ("POST", "/api/v1/pageviews"): "contacts:write",
    ("POST", "/api/v1/forms/<slug>"): "contacts:write",
    ("POST", "/api/v1/bounces"): "contacts:write",
    **{("POST", f"/api/v1/handoffs/<int:handoff_id>/{verb}"): "sales:act"
       for verb in ("decision", "feedback", "outcome", "recycle")},
}
ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
SAMPLE = {"int": "999999", "month": "2026-01", "fmt": "png"}


def endpoints(app):
    """(method, rule, view) for every route under /api/v1."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith("/api/v1/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule.rule, app.view_functions[rule.endpoint]


def is_public(view) -> bool:
    operation = getattr(view, "operation", None)
    return bool(getattr(operation, "public", False)) and not getattr(view, "required_scopes", ())


def path_of(rule: str) -> str:
    return ARGUMENT.sub(lambda m: SAMPLE.get(m.group(2)) or SAMPLE.get(m.group(1) or "") or "nope", rule)


def test_every_endpoint_declares_the_scope_it_needs(app):
    problems = []
    for method, rule, view in endpoints(app):
        if is_public(view):
            continue
        scopes = tuple(getattr(view, "required_scopes", ()))
        if not scopes or not set(scopes) <= set(SCOPES):
            problems.append(f"{method} {rule} declares {scopes or 'no scope'}: use @require_api_key(<scope>)")
        elif (method, rule) in DECIDED and scopes != (DECIDED[method, rule],):
            problems.append(f"{method} {rule} needs {DECIDED[method, rule]}, declares {scopes}")
        elif method == "GET" and not set(scopes) <= {"read", "admin"}:
            problems.append(f"{method} {rule} reads: it needs read (or admin), not {scopes}")
        elif method != "GET" and "read" in scopes:
            problems.append(f"{method} {rule} writes: read is not enough")
    assert not problems, "\n".join(problems)
    assert len([e for e in endpoints(app) if not is_public(e[2])]) >= len(DECIDED)


@pytest.fixture
def keys(session, clock):
    """Bearer headers by kind: none, revoked, each single scope, admin."""
    def make(name, scopes):
        return issue_api_key(session, name, clock.now(), scopes)
    made = {scope: make(scope, [scope]) for scope in SCOPES}
    revoked = make("revoked", ["admin"])
    revoke_api_key(session, str(revoked[0].id), clock.now())
    session.commit()
    headers = {"no key": {}, "revoked key": {"Authorization": f"Bearer {revoked[1]}"}}
    headers.update({f"{scope} key": {"Authorization": f"Bearer {key}"} for scope, (_, key) in made.items()})
    return headers


def expected(kind: str, view) -> str:
    if is_public(view):
        return "allowed"
    if kind in ("no key", "revoked key"):
        return "401"
    scope = kind.removesuffix(" key")
    return "allowed" if scope == "admin" or scope in view.required_scopes else "403"


def test_each_key_gets_what_its_scopes_allow(app, client, keys, synced):
    wrong = []
    for method, rule, view in endpoints(app):
        path = path_of(rule)
        for kind, headers in keys.items():
            body = None if method == "GET" else {}
            response = client.open(path, method=method, headers=headers, json=body)
            want, status = expected(kind, view), response.status_code
            error = (response.get_json(silent=True) or {}).get("error") or {}
            if want == "401":
                ok = status == 401 and error.get("code") == "unauthorized"
            elif want == "403":
                ok = status == 403 and error.get("code") == "insufficient_scope" and all(
                    s in error.get("message", "") for s in view.required_scopes)
            else:
                ok = status < 500 and status not in (401, 403)
            if not ok:
                wrong.append(f"{method} {path} with {kind}: expected {want}, got {status} {error}")
    assert not wrong, "\n".join(wrong)
