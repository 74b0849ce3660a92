"""API keys: scopes refused with 403 naming the scope, revocation that takes effect at once, last use
to the minute without a write per request, the `nurture apikey` commands, and keys made before scopes."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, event, text

from app.cli import main
from app.domain.contacts.api_keys import SCOPES, hash_api_key
from app.models import ApiKey


@pytest.fixture
def cli(services):
    def run(*args):
        return CliRunner().invoke(main, list(args), obj=services, catch_exceptions=False)
    return run


def test_a_key_without_the_scope_is_refused_naming_it(client, synced, key_for):
    """A read-only key reads, and is answered 403 with the scope it lacks when it writes; nothing is stored."""
    _, headers = key_for("read")
    assert client.get("/api/v1/contacts/1", headers=headers).status_code == 404
    refused = client.post("/api/v1/contacts", headers=headers, json={"email": "ana@example.org"})
    assert refused.status_code == 403
    error = refused.get_json()["error"]
    assert error["code"] == "insufficient_scope" and "contacts:write" in error["message"]
    _, writer = key_for("contacts:write")
    assert client.post("/api/v1/contacts", headers=writer, json={"email": "ana@example.org"}).status_code == 201
    assert client.get("/api/v1/contacts/1", headers=writer).status_code == 403  # writing is not reading


def test_admin_implies_every_scope(client, synced, key_for):
    _, headers = key_for("admin")
    assert client.post("/api/v1/contacts", headers=headers, json={"email": "ana@example.org"}).status_code == 201
    assert client.get("/api/v1/agreement", headers=headers).status_code == 200
    assert client.put("/api/v1/agreement", headers=headers, json={}).status_code == 200


def test_a_revoked_key_is_refused_at_once(client, synced, key_for, cli):
    """Revoked by its listed prefix while in use: its very next request is a 401."""
    row, headers = key_for("read", "contacts:write")
    assert client.post("/api/v1/contacts", headers=headers, json={"email": "ana@example.org"}).status_code == 201
    revoked = cli("apikey", "revoke", row.prefix)
    assert revoked.exit_code == 0 and f"revoked key crm ({row.prefix})" in revoked.output
    refused = client.post("/api/v1/contacts", headers=headers, json={"email": "bo@example.org"})
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    again = cli("apikey", "revoke", str(row.id))
    assert again.exit_code == 1 and "already revoked" in again.output
    assert cli("apikey", "revoke", "nk_nothere").exit_code == 1


def test_last_use_is_recorded_to_the_minute_without_a_write_per_request(client, services, session, clock, key_for):
    """The first request records the time; more within the minute write nothing; a minute later it moves."""
    row, headers = key_for("read")
    writes = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            writes.append(statement)
    event.listen(services.engine, "before_cursor_execute", count)
    try:
        client.get("/api/v1/agreement", headers=headers)
        first = clock.now()
        for _ in range(5):
            clock.advance(10)
            client.get("/api/v1/agreement", headers=headers)
        assert len(writes) == 1
        clock.advance(15)  # 65 s after the first use
        client.get("/api/v1/agreement", headers=headers)
        assert len(writes) == 2
    finally:
        event.remove(services.engine, "before_cursor_execute", count)
    session.expire_all()
    assert session.get(ApiKey, row.id).last_used_at == first + timedelta(seconds=65)


def test_the_apikey_commands_create_list_and_revoke(cli, client, synced):
    """create prints the key alone on stdout (default scopes read and contacts:write), list shows them all."""
    made = cli("apikey", "create", "--name", "crm-sync")
    key = made.stdout.strip()
    assert made.exit_code == 0 and re.fullmatch(r"nk_[\w-]{40,}", key)
    assert "scopes: read, contacts:write" in made.output and "not shown again" in made.output
    assert client.post("/api/v1/contacts", headers={"Authorization": f"Bearer {key}"},
                       json={"email": "ana@example.org"}).status_code == 201
    ops = cli("apikey", "create", "--name", "ops", "--scope", "campaigns:manage", "--scope", "read")
    assert "scopes: read, campaigns:manage" in ops.output
    bad = cli("apikey", "create", "--name", "x", "--scope", "root")
    assert bad.exit_code == 1 and "unknown scope 'root'" in bad.output
    assert cli("apikey", "revoke", key[:10]).exit_code == 0
    listed = cli("apikey", "list").stdout.splitlines()
    assert listed[0].split("\t") == ["id", "prefix", "name", "scopes", "created", "last used", "revoked"]
    rows = {line.split("\t")[2]: line.split("\t") for line in listed[1:]}
    assert rows["crm-sync"][1] == key[:10] and rows["crm-sync"][3] == "read,contacts:write"
    assert rows["crm-sync"][5] != "-" and rows["crm-sync"][6] != "-"  # used, then revoked
    assert rows["ops"][3] == "read,campaigns:manage" and rows["ops"][5:] == ["-", "-"]
    assert "x" not in rows


def test_keys_made_before_scopes_keep_every_scope(tmp_path, config, clock):
    """A key created before migration 0011 still does everything it did: it is given every scope."""
    from alembic import command

    from app import create_app
    from app.db import alembic_config, upgrade

    url = f"sqlite:///{tmp_path}/old.db"
    command.upgrade(alembic_config(url), "0010")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO api_keys (name, prefix, key_hash, created_at) "
                          "VALUES ('legacy', 'nk_legacy', :h, '2025-06-01 00:00:00')"), {"h": hash_api_key("nk_legacy-key")})
    upgrade(engine)
    engine.dispose()
    app = create_app(config.with_overrides(database_url=url), clock=clock)
    headers = {"Authorization": "Bearer nk_legacy-key"}
    client = app.test_client()
    assert client.get("/api/v1/contacts/1", headers=headers).status_code == 404
    assert client.post("/api/v1/contacts", headers=headers, json={"email": "ana@example.org"}).status_code == 201
    for path in ("/api/v1/handoffs/1/decision", "/api/v1/qr"):  # past the key: only the empty body is refused
        assert client.post(path, headers=headers, json={}).status_code in (404, 422), path
    assert client.put("/api/v1/agreement", headers=headers, json={}).status_code == 200
    with app.extensions["nurture"].sessions() as session:
        assert session.query(ApiKey).one().scopes == list(SCOPES)
    app.extensions["nurture"].engine.dispose()
