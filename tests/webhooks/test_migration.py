"""Upgrading past 0012: the one webhook URL of before becomes the endpoint named "crm", taking the
handoff events with the same secret, and the deliveries already owed belong to it (SQLite and
PostgreSQL, where the setting is JSONB)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic import command

from app.db import alembic_config
from app.models.base import JSONType, UTCDateTime
from tests.integration.conftest import pg_url  # noqa: F401  (fixture)

THEN = datetime(2026, 1, 1, tzinfo=timezone.utc)
settings = sa.table("settings", sa.column("key", sa.String), sa.column("value", JSONType),
                    sa.column("description", sa.Text), sa.column("updated_at", UTCDateTime()))
deliveries = sa.table("webhook_deliveries", *(sa.column(n) for n in ("url", "status", "attempts", "event")),
                      sa.column("payload", JSONType), sa.column("history", JSONType),
                      sa.column("created_at", UTCDateTime()), sa.column("endpoint_id", sa.Integer))
endpoints = sa.table("webhook_endpoints", *(sa.column(n) for n in ("id", "name", "url", "secret", "active",
                                                                   "allow_private")),
                     sa.column("events", JSONType))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/m.db"
    return request.getfixturevalue("pg_url").replace("postgresql://", "postgresql+psycopg://")


@pytest.mark.parametrize("stored", [{"url": "https://crm.example/hooks", "secret": "whsec_kept_0123456789"}, None])
def test_the_webhook_setting_becomes_the_crm_endpoint(database, stored):
    command.upgrade(alembic_config(database), "0011")
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        if stored:
            conn.execute(settings.insert().values(key="webhook", value=stored, description="", updated_at=THEN))
        conn.execute(deliveries.insert().values(url="https://crm.example/hooks", payload={"id": "x"}, status="pending",
                                                attempts=0, event="handoff.assigned", history=[], created_at=THEN))
    command.upgrade(alembic_config(database), "0012")
    with engine.connect() as conn:
        found = conn.execute(sa.select(endpoints)).all()
        owner = conn.execute(sa.select(deliveries.c.endpoint_id)).scalar()
        setting = conn.execute(sa.select(settings.c.value).where(settings.c.key == "webhook")).scalar()
    if not stored:
        assert found == [] and owner is None
    else:
        [crm] = found
        assert (crm.name, crm.url, crm.secret, bool(crm.active), bool(crm.allow_private)) == (
            "crm", stored["url"], stored["secret"], True, False)
        assert crm.events[:2] == ["handoff.created", "handoff.assigned"] and owner == crm.id and setting is None
        command.downgrade(alembic_config(database), "0011")
        with engine.connect() as conn:
            assert conn.execute(sa.select(settings.c.value).where(settings.c.key == "webhook")).scalar() == stored
    engine.dispose()
