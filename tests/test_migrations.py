"""The Alembic migrations produce exactly the schema the models describe."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from app.db import current_revision, upgrade
from app.models import Base


def test_migrations_match_the_models_on_sqlite(tmp_path):
    """Upgrading twice is safe and leaves no difference between migrations and models."""
    engine = create_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) is not None
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_claims_taken_before_the_claim_column_are_carried_over(tmp_path):
    """Upgrading past 0008: a message claimed inside a send lane stays held with its lane (the sweeper
    settles the lane from its journal); one claimed outside any lane was never handed over and is free."""
    from alembic import command
    from sqlalchemy import text

    from app.db import alembic_config

    url = f"sqlite:///{tmp_path}/m.db"
    command.upgrade(alembic_config(url), "0007")
    engine = create_engine(url)
    with engine.begin() as conn:
        for message_id in (1, 2):
            conn.execute(text("INSERT INTO messages (id, public_id, kind, to_email, subject, status, attempts, created_at) "
                              "VALUES (:id, :pid, 'nurture', 'a@example.org', '', 'claimed', 0, '2026-01-01 00:00:00')"),
                         {"id": message_id, "pid": f"{message_id:032x}"})
        conn.execute(text("INSERT INTO send_lanes (message_ids, position, lease_until, worker, started_at, updated_at) "
                          "VALUES ('[1]', 0, '2026-01-01 00:05:00', 'w', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, claim FROM messages ORDER BY id")).all()
        lane_claim = conn.execute(text("SELECT claim FROM send_lanes")).scalar()
    assert [tuple(r) for r in rows] == [(1, "pending", 0), (2, "pending", None)] and lane_claim == 0
