"""send lanes

A journal row per SMTP connection's share of a send batch, so that delivery records its progress
with one small update per message and writes the messages themselves in bulk.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
import app.models.base
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
UTC = app.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('send_lanes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_ids', JSON, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('lease_until', UTC, nullable=False),
    sa.Column('worker', sa.String(length=200), nullable=False),
    sa.Column('started_at', UTC, nullable=False),
    sa.Column('updated_at', UTC, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_send_lanes'))
    )


def downgrade() -> None:
    op.drop_table('send_lanes')
