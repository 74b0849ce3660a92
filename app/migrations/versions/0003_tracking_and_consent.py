"""tracking and consent

Consent with basis, source and time; a public id per contact for site tracking; the preference
page's pause and choices; anonymous events (QR scans); printed QR codes; the hashed suppression
list that erasure leaves.

Revision ID: 0003
Revises: 0002
"""
import secrets

from alembic import op
import sqlalchemy as sa
import app.models.base
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
UTC = app.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_consent_basis', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('email_consent_source', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('email_consent_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('tracking_consent_basis', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('tracking_consent_source', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('tracking_consent_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('paused_until', UTC, nullable=True))
        batch_op.add_column(sa.Column('preferences', JSON, server_default='{}', nullable=False))
    # Contacts made before this revision get their random public id now.
    connection = op.get_bind()
    contacts = sa.table('contacts', sa.column('id', sa.Integer), sa.column('public_id', sa.String))
    ids = connection.execute(sa.select(contacts.c.id).where(contacts.c.public_id.is_(None))).scalars().all()
    for contact_id in ids:
        connection.execute(contacts.update().where(contacts.c.id == contact_id).values(public_id=secrets.token_hex(16)))
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_contacts_public_id'), ['public_id'])

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.alter_column('contact_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index('ix_events_campaign', ['campaign_id', 'type'], unique=False)

    op.create_table('qr_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('scans', sa.Integer(), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_qr_codes_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qr_codes')),
    sa.UniqueConstraint('public_id', name=op.f('uq_qr_codes_public_id'))
    )
    op.create_table('suppressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions')),
    sa.UniqueConstraint('email_hash', name=op.f('uq_suppressions_email_hash'))
    )


def downgrade() -> None:
    op.drop_table('suppressions')
    op.drop_table('qr_codes')
    op.execute("DELETE FROM events WHERE contact_id IS NULL")
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_campaign')
        batch_op.alter_column('contact_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_contacts_public_id'), type_='unique')
        for column in ('preferences', 'paused_until', 'public_id', 'tracking_consent_at', 'tracking_consent_source',
                       'tracking_consent_basis', 'email_consent_at', 'email_consent_source', 'email_consent_basis'):
            batch_op.drop_column(column)
