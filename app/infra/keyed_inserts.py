"""Insert-once: rows whose producer may retry carry a key, and a row whose key is already stored is
skipped by the database (INSERT … ON CONFLICT DO NOTHING), in each dialect's own spelling."""
from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import Event


def insert_keyed_events(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING for events whose producer may retry; returns the
    dedupe keys actually inserted. The key's unique index is partial (keyed events only)."""
    if not rows:
        return set()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (insert(Event)
                 .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=Event.dedupe_key.is_not(None))
                 .returning(Event.dedupe_key))
    return set(session.execute(statement, rows).scalars().all())
