"""API keys with scopes and their last use; audit actors wide enough to name a key and its user

A key now holds the scopes it may use (read, contacts:write, campaigns:manage, sales:act, admin).
Keys made before this revision could do everything, and keep doing so: they get every scope.
A key acting for a user is recorded as "key <name> (<prefix>) for user <email>", which can be
longer than the 100 characters the actor columns held; feedback records its actor too.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

ALL_SCOPES = ["read", "contacts:write", "campaigns:manage", "sales:act", "admin"]
JSON = sa.JSON().with_variant(JSONB(), 'postgresql')
ACTORS = ('handoff_events', 'stage_transitions')


def upgrade() -> None:
    op.add_column('api_keys', sa.Column('scopes', JSON, nullable=True))
    op.add_column('api_keys', sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    api_keys = sa.table('api_keys', sa.column('scopes', JSON))
    op.execute(api_keys.update().values(scopes=ALL_SCOPES))
    with op.batch_alter_table('api_keys') as batch:
        batch.alter_column('scopes', existing_type=JSON, nullable=False)
    # Widening a varchar is a catalogue change on PostgreSQL (no rewrite); SQLite copies the table.
    for table in ACTORS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('actor', existing_type=sa.String(100), type_=sa.String(500),
                               existing_nullable=False)
    op.add_column('feedback', sa.Column('actor', sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('feedback') as batch:
        batch.drop_column('actor')
    for table in ACTORS:
        op.execute(sa.text(f"UPDATE {table} SET actor = substr(actor, 1, 100) WHERE length(actor) > 100"))
        with op.batch_alter_table(table) as batch:
            batch.alter_column('actor', existing_type=sa.String(500), type_=sa.String(100),
                               existing_nullable=False)
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_column('last_used_at')
        batch.drop_column('scopes')
