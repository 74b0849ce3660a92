"""lighter writes per send

Every message is inserted once and every send, open and click adds an event. A foreign key check
runs a query per row that locks the parent row; messages checked their campaign, step and step
version, events their message, campaign and step. Those parents are archived, never deleted, so
the keys guarded nothing a delete could break, and together they cost about half of each insert.
The keys that act on erasure (contact, enrollment) stay. The unique index on events.dedupe_key
held an entry for every event although only retried producers set a key: it is now partial. The
index on events (step_id, type) served no query (step statistics go through the campaign's).

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

HAS_KEY = sa.text('dedupe_key IS NOT NULL')
UNCHECKED = {
    'messages': [('campaign_id', 'campaigns'), ('step_id', 'steps'), ('step_version_id', 'step_versions')],
    'events': [('message_id', 'messages'), ('campaign_id', 'campaigns'), ('step_id', 'steps')],
}


def upgrade() -> None:
    for table, keys in UNCHECKED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, parent in keys:
                batch_op.drop_constraint(f'fk_{table}_{column}_{parent}', type_='foreignkey')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_step')
        batch_op.drop_constraint('uq_events_dedupe_key', type_='unique')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('uq_events_dedupe_key', ['dedupe_key'], unique=True,
                              postgresql_where=HAS_KEY, sqlite_where=HAS_KEY)


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('uq_events_dedupe_key')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_events_dedupe_key', ['dedupe_key'])
        batch_op.create_index('ix_events_step', ['step_id', 'type'], unique=False)
    for table, keys in UNCHECKED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, parent in keys:
                batch_op.create_foreign_key(f'fk_{table}_{column}_{parent}', parent, [column], ['id'],
                                            ondelete='SET NULL')
