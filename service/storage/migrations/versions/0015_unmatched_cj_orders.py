"""CJ orders with no store order: found by the daily sweep of CJ's order list, listed by reconciliation.

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'unmatched_cj_orders',
        sa.Column('cj_order_id', sa.String(length=64), nullable=False),
        sa.Column('cj_order_code', sa.String(length=64), nullable=True),
        sa.Column('order_num', sa.String(length=100), nullable=True),
        sa.Column('cj_status', sa.String(length=32), nullable=True),
        sa.Column('order_amount', sa.Numeric(18, 2), nullable=True),
        sa.Column('product_amount', sa.Numeric(18, 2), nullable=True),
        sa.Column('postage_amount', sa.Numeric(18, 2), nullable=True),
        sa.Column('created_at_cj', sa.DateTime(), nullable=True),
        sa.Column('paid_at_cj', sa.DateTime(), nullable=True),
        sa.Column('first_seen_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.Column('gone_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('cj_order_id'))
    op.create_index('ix_unmatched_cj_orders_created_at_cj', 'unmatched_cj_orders', ['created_at_cj'])
    with op.batch_alter_table('cj_account_state') as batch:
        batch.add_column(sa.Column('orders_swept_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cj_account_state') as batch:
        batch.drop_column('orders_swept_at')
    op.drop_index('ix_unmatched_cj_orders_created_at_cj', table_name='unmatched_cj_orders')
    op.drop_table('unmatched_cj_orders')
