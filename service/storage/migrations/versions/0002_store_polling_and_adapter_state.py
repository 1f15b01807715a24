"""Stores: adapter state (e.g. which tracking API a site has), polling cursor, webhook-miss counter.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults fill the rows that already exist; the columns are NOT NULL.
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adapter_state', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column('poll_cursor', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_polled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('webhook_misses', sa.Integer(), nullable=False, server_default=sa.text('0')))
        batch_op.add_column(sa.Column('last_webhook_miss_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('last_webhook_miss_at')
        batch_op.drop_column('webhook_misses')
        batch_op.drop_column('last_polled_at')
        batch_op.drop_column('poll_cursor')
        batch_op.drop_column('adapter_state')
