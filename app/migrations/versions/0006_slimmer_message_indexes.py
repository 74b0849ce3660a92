"""slimmer message indexes

Every state change of a message writes a new row version and an entry in each of its indexes.
The index on step_version_id served no query (step versions are never deleted), and the unique
index on dedupe_key held an entry for every message although only rep notices carry a key: it is
now partial.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

HAS_KEY = sa.text('dedupe_key IS NOT NULL')


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_step_version')
        batch_op.drop_constraint('uq_messages_dedupe_key', type_='unique')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('uq_messages_dedupe_key', ['dedupe_key'], unique=True,
                              postgresql_where=HAS_KEY, sqlite_where=HAS_KEY)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('uq_messages_dedupe_key')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_messages_dedupe_key', ['dedupe_key'])
        batch_op.create_index('ix_messages_step_version', ['step_version_id'], unique=False)
