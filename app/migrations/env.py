"""Alembic environment: the URL comes from the caller (nurture init) or NURTURE_DATABASE_URL."""
from alembic import context
from sqlalchemy import engine_from_config, pool

from app.config import load_config
from app.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or load_config().database_url
config.set_main_option("sqlalchemy.url", url)


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
