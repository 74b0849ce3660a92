"""The admins' API keys page: the list, a new key shown once, revocation after a confirmation; admins only."""
from __future__ import annotations

import re

import pytest

from .conftest import csrf_token, text_of

KEY = re.compile(r'<code id="new-key"[^>]*>(nk_[\w-]+)</code>')


def create(client, name, *scopes):
    return client.post("/api-keys", data={"name": name, "scopes": list(scopes)})


def test_an_admin_creates_a_key_seen_once_and_it_works_with_its_scopes(client, people, login, synced):
    login(people["admin"])
    page = client.get("/api-keys")
    assert page.status_code == 200 and "No API keys yet" in text_of(page)
    assert re.findall(r'name="scopes" value="([^"]+)" checked', page.get_data(as_text=True)) == ["read", "contacts:write"]
    made = create(client, "crm-sync", "read", "sales:act")
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    key = KEY.search(made.get_data(as_text=True)).group(1)
    assert "Copy it now: it is not shown again" in text_of(made)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/handoffs", headers=headers).status_code == 200
    assert client.post("/api/v1/contacts", headers=headers, json={"email": "a@example.org"}).status_code == 403
    again = client.get("/api-keys").get_data(as_text=True)
    assert key not in again and key[:10] in again and "read, sales:act" in again


def test_a_key_needs_a_name_and_a_known_scope(client, people, login):
    login(people["admin"])
    no_scope = create(client, "crm")
    assert no_scope.status_code == 400 and "at least one scope" in text_of(no_scope)
    unknown = create(client, "crm", "root")
    assert unknown.status_code == 400 and "unknown scope" in text_of(unknown)
    no_name = create(client, "  ", "read")
    assert no_name.status_code == 400 and "Name:" in text_of(no_name)
    assert "No API keys yet" in text_of(client.get("/api-keys"))


def test_revoking_asks_first_then_refuses_the_key_at_once(client, people, login, synced):
    login(people["admin"])
    key = KEY.search(create(client, "crm", "read").get_data(as_text=True)).group(1)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/handoffs", headers=headers).status_code == 200
    listing = client.get("/api-keys").get_data(as_text=True)
    confirm_url = re.search(r'href="(/api-keys/\d+/revoke)"', listing).group(1)
    confirm = client.get(confirm_url)
    assert "Revoke key crm?" in text_of(confirm) and "cannot be undone" in text_of(confirm)
    assert client.get("/api/v1/handoffs", headers=headers).status_code == 200  # asking revokes nothing
    done = client.post(confirm_url, follow_redirects=True)
    assert "is revoked" in text_of(done) and "revoked" in text_of(done)
    assert client.get("/api/v1/handoffs", headers=headers).status_code == 401
    twice = client.post(confirm_url, follow_redirects=True)
    assert "already revoked" in text_of(twice)
    assert client.get("/api-keys/999/revoke").status_code == 404


@pytest.mark.parametrize("who", ["marketer", "manager", "rep"])
def test_only_admins_see_or_manage_keys(client, people, login, session, clock, who):
    from app.domain.contacts.api_keys import issue_api_key

    row, key = issue_api_key(session, "crm", clock.now(), ["read"])
    session.commit()
    login(people[who])
    for method, path in [("get", "/api-keys"), ("post", "/api-keys"), ("get", f"/api-keys/{row.id}/revoke"),
                         ("post", f"/api-keys/{row.id}/revoke")]:
        assert getattr(client, method)(path, data={"name": "x", "scopes": ["admin"]}).status_code == 403, (method, path)
    assert "/api-keys" not in client.get("/contacts").get_data(as_text=True)
    assert client.get("/api/v1/handoffs", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    login(people["admin"])
    assert 'href="/api-keys"' in client.get("/contacts").get_data(as_text=True)
    assert "crm" in text_of(client.get("/api-keys")) and "No API keys" not in text_of(client.get("/api-keys"))


def test_creating_and_revoking_need_the_forms_csrf_token(client, people, session, clock):
    """With CSRF on, a forged post creates and revokes nothing; the page's own token works."""
    from app.domain.contacts.api_keys import issue_api_key

    row, key = issue_api_key(session, "crm", clock.now(), ["read"])
    session.commit()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": people["admin"].email, "password": "correct-horse", "csrf_token": token})
    assert client.post("/api-keys", data={"name": "forged", "scopes": ["admin"]}).status_code == 400
    assert client.post(f"/api-keys/{row.id}/revoke").status_code == 400
    assert client.get("/api/v1/handoffs", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    page = client.get(f"/api-keys/{row.id}/revoke").get_data(as_text=True)
    assert client.post(f"/api-keys/{row.id}/revoke", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert client.get("/api/v1/handoffs", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert "forged" not in client.get("/api-keys").get_data(as_text=True)
