"""claims without a status change

Claiming a message used to change its status to 'claimed'. Status is indexed, so every claim
wrote a new version of the row with an entry in each of the table's indexes. A claim now sets
`claim` (a number shared by the claiming job's send lanes; not indexed) and leaves the status
pending. On PostgreSQL, with room left on each page (fillfactor 50), that is a heap-only update.

Upgrade with the workers stopped. Messages claimed outside any lane were never handed over and go
back to pending; those in a lane join claim 0 with their lane, which the sweeper settles from its
journal once the lane's lease runs out.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

messages = sa.table('messages', sa.column('id', sa.Integer), sa.column('status', sa.String),
                    sa.column('claim', sa.BigInteger), sa.column('lease_until'))
send_lanes = sa.table('send_lanes', sa.column('message_ids', sa.JSON), sa.column('claim', sa.BigInteger))


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('send_lanes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim', sa.BigInteger(), nullable=False, server_default='0'))
    bind = op.get_bind()
    in_lanes = {int(i) for ids in bind.execute(sa.select(send_lanes.c.message_ids)).scalars() for i in ids}
    claimed = sa.select(messages.c.id).where(messages.c.status == 'claimed')
    for message_id in bind.execute(claimed).scalars().all():
        bind.execute(messages.update().where(messages.c.id == message_id).values(
            status='pending', lease_until=None, claim=0 if message_id in in_lanes else None))
    if bind.dialect.name == 'postgresql':
        op.execute('ALTER TABLE messages SET (fillfactor = 50)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE messages RESET (fillfactor)')
    op.execute("UPDATE messages SET status = 'claimed' WHERE claim IS NOT NULL AND status = 'pending'")
    with op.batch_alter_table('send_lanes', schema=None) as batch_op:
        batch_op.drop_column('claim')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('claim')
