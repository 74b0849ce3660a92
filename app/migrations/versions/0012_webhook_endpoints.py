"""Webhook endpoints, each with its own secret and event types; deliveries per endpoint

The one webhook URL of before (the "webhook" setting) becomes the endpoint named "crm", taking
the handoff events, and the deliveries already owed belong to it.

Revision ID: 0012
Revises: 0011
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import app.models.base
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
UTC = app.models.base.UTCDateTime(timezone=True)
CRM_EVENTS = ["handoff.created", "handoff.assigned", "handoff.escalated", "handoff.accepted", "handoff.rejected",
              "outcome.recorded"]

settings = sa.table('settings', sa.column('key', sa.String), sa.column('value', JSON), sa.column('description', sa.Text),
                    sa.column('updated_at', UTC))
endpoints = sa.table('webhook_endpoints', sa.column('id', sa.Integer), sa.column('name', sa.String),
                     sa.column('url', sa.Text), sa.column('secret', sa.String), sa.column('events', JSON),
                     sa.column('active', sa.Boolean), sa.column('allow_private', sa.Boolean),
                     sa.column('created_by', sa.String), sa.column('created_at', UTC),
                     sa.column('updated_at', UTC))
deliveries = sa.table('webhook_deliveries', sa.column('endpoint_id', sa.Integer))


def upgrade() -> None:
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('events', JSON, nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('allow_private', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=500), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('updated_at', UTC, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    sa.UniqueConstraint('name', name=op.f('uq_webhook_endpoints_name'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('endpoint_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('contact_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'),
                                    'webhook_endpoints', ['endpoint_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_webhook_deliveries_contact_id_contacts'),
                                    'contacts', ['contact_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_webhook_deliveries_endpoint', ['endpoint_id', 'id'], unique=False)
    _carry_over_the_setting()


def _carry_over_the_setting() -> None:
    bind = op.get_bind()
    stored = bind.execute(sa.select(settings.c.value).where(settings.c.key == 'webhook')).scalar()
    if not stored or not stored.get('url'):
        return
    now = datetime.now(timezone.utc)
    bind.execute(endpoints.insert().values(
        name='crm', url=stored['url'], secret=stored.get('secret') or '', events=CRM_EVENTS, active=True,
        allow_private=False, created_by='migration 0012', created_at=now, updated_at=now))
    endpoint_id = bind.execute(sa.select(endpoints.c.id).where(endpoints.c.name == 'crm')).scalar()
    bind.execute(deliveries.update().values(endpoint_id=endpoint_id))
    bind.execute(settings.delete().where(settings.c.key == 'webhook'))


def downgrade() -> None:
    bind = op.get_bind()
    crm = bind.execute(sa.select(endpoints.c.url, endpoints.c.secret, endpoints.c.active)
                       .where(endpoints.c.name == 'crm')).first()
    if crm is not None and crm.active:
        bind.execute(settings.insert().values(key='webhook', value={'url': crm.url, 'secret': crm.secret}, description='',
                                              updated_at=datetime.now(timezone.utc)))
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_endpoint')
        batch_op.drop_constraint(batch_op.f('fk_webhook_deliveries_contact_id_contacts'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'), type_='foreignkey')
        batch_op.drop_column('contact_id')
        batch_op.drop_column('endpoint_id')
    op.drop_table('webhook_endpoints')
