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
