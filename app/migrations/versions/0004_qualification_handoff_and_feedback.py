"""qualification, handoff and feedback

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import app.models.base
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
UTC = app.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('handoff_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('from_rep_id', sa.Integer(), nullable=True),
    sa.Column('to_rep_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], name=op.f('fk_handoff_events_handoff_id_handoffs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_rep_id'], ['users.id'], name=op.f('fk_handoff_events_from_rep_id_users')),
    sa.ForeignKeyConstraint(['to_rep_id'], ['users.id'], name=op.f('fk_handoff_events_to_rep_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_events'))
    )
    with op.batch_alter_table('handoff_events', schema=None) as batch_op:
        batch_op.create_index('ix_handoff_events_handoff', ['handoff_id', 'created_at'], unique=False)

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score_reset_at', UTC, nullable=True))

    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assigned_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('escalated_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('escalated_to_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reassignments', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('outcome_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('recycled_at', UTC, nullable=True))
        batch_op.create_index('ix_handoffs_assigned', ['rep_id', 'assigned_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_handoffs_escalated_to_id_users'), 'users', ['escalated_to_id'], ['id'])
    # Handoffs made before this revision were assigned when they were created.
    op.execute("UPDATE handoffs SET assigned_at = created_at WHERE rep_id IS NOT NULL AND status != 'queued'")

    with op.batch_alter_table('scoring_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='event', nullable=False))
        batch_op.add_column(sa.Column('min_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('window_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('condition', JSON, nullable=True))
        batch_op.alter_column('event_type', existing_type=sa.String(length=50), nullable=True)

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event', sa.String(length=50), server_default='handoff.assigned', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('queued_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('lease_until', UTC, nullable=True))
        batch_op.add_column(sa.Column('history', JSON, server_default=sa.text("'[]'"), nullable=False))
        batch_op.create_index('ix_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_due')
        batch_op.drop_column('history')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('queued_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('event')

    op.execute("DELETE FROM scoring_rules WHERE event_type IS NULL")
    with op.batch_alter_table('scoring_rules', schema=None) as batch_op:
        batch_op.alter_column('event_type', existing_type=sa.String(length=50), nullable=False)
        batch_op.drop_column('condition')
        batch_op.drop_column('window_days')
        batch_op.drop_column('min_count')
        batch_op.drop_column('kind')

    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_handoffs_escalated_to_id_users'), type_='foreignkey')
        batch_op.drop_index('ix_handoffs_assigned')
        batch_op.drop_column('recycled_at')
        batch_op.drop_column('outcome_at')
        batch_op.drop_column('reassignments')
        batch_op.drop_column('escalated_to_id')
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('assigned_at')

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('score_reset_at')

    with op.batch_alter_table('handoff_events', schema=None) as batch_op:
        batch_op.drop_index('ix_handoff_events_handoff')
    op.drop_table('handoff_events')
