"""Stores: when they were last activated (an older uninstall is a replay); tombstones of redacted orders.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('activated_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE stores SET activated_at = created_at")
    op.create_table(
        'redacted_orders',
        sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('platform_order_id', sa.String(length=64), nullable=False),
        sa.Column('redacted_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('store_id', 'platform_order_id'))


def downgrade() -> None:
    op.drop_table('redacted_orders')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('activated_at')
