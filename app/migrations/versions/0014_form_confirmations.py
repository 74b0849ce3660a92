"""Form submissions about an existing contact, held until the contact confirms

An anonymous form may create a contact, but it never rewrites one Nurture already knows: such a
submission (its fields, consent and event) is held in form_confirmations with a random public id
that the emailed, signed confirmation link names. Text fields a form typed into a new contact are
listed in contacts.unconfirmed_fields and never merged into a subject line until confirmed.

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import app.models.base

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
UTC = app.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('form_confirmations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('form', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=50), nullable=False),
    sa.Column('fields', JSON, nullable=False),
    sa.Column('answers', JSON, nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('confirmed_at', UTC, nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_form_confirmations_contact_id_contacts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_confirmations')),
    sa.UniqueConstraint('public_id', name=op.f('uq_form_confirmations_public_id'))
    )
    op.create_index('ix_form_confirmations_contact', 'form_confirmations', ['contact_id', 'created_at'])
    op.add_column('contacts', sa.Column('unconfirmed_fields', JSON, nullable=True))
    contacts = sa.table('contacts', sa.column('unconfirmed_fields', JSON))
    op.execute(contacts.update().values(unconfirmed_fields=[]))
    with op.batch_alter_table('contacts') as batch:
        batch.alter_column('unconfirmed_fields', existing_type=JSON, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('unconfirmed_fields')
    op.drop_index('ix_form_confirmations_contact', table_name='form_confirmations')
    op.drop_table('form_confirmations')
