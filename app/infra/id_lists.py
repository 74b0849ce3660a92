"""A column matched against a list of ids, as each database takes it best."""
from __future__ import annotations

from sqlalchemy import Integer, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def id_among(session: Session, column, ids: list[int]):
    """One array parameter on PostgreSQL: a list of a hundred placeholders costs the driver more to
    rewrite on every call than the query costs the server. An IN list elsewhere."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
    return column.in_(ids)
