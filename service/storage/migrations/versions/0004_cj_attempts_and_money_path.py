"""Orders: CJ attempts and their history, CJ's order code, the lines sent, CJ's amounts, the USD rate used,
held-for-lock and acknowledged-hold marks; shipments add to (never replace) another; CJ's sub-orders; exchange
rates; CJ budget exhaustion kept apart from the request throttle.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cj_attempt', sa.Integer(), nullable=False, server_default=sa.text('0')))
        batch_op.add_column(sa.Column('cj_attempt_history', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('cj_order_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('cj_lines', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('cj_product_amount', sa.Numeric(precision=18, scale=2), nullable=True))
        batch_op.add_column(sa.Column('cj_postage_amount', sa.Numeric(precision=18, scale=2), nullable=True))
        batch_op.add_column(sa.Column('usd_rate', sa.Numeric(precision=18, scale=8), nullable=True))
        batch_op.add_column(sa.Column('store_change_waiting_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_holds', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.alter_column('replaces_shipment_id', new_column_name='adds_to_shipment_id')
    with op.batch_alter_table('cj_account_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exhausted_until', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    op.create_table(
        'exchange_rates',
        sa.Column('currency', sa.String(length=8), nullable=False),
        sa.Column('usd_per_unit', sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('currency'))
    op.create_table(
        'cj_order_parts',
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('store_line_ids', sa.JSON(), nullable=False),
        sa.Column('cj_status', sa.String(length=32), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('code'))
    op.create_index(op.f('ix_cj_order_parts_order_id'), 'cj_order_parts', ['order_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_cj_order_parts_order_id'), table_name='cj_order_parts')
    op.drop_table('cj_order_parts')
    op.drop_table('exchange_rates')
    with op.batch_alter_table('cj_account_state', schema=None) as batch_op:
        batch_op.drop_column('exhausted_until')
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.alter_column('adds_to_shipment_id', new_column_name='replaces_shipment_id')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        for column in ('acknowledged_holds', 'store_change_waiting_at', 'usd_rate', 'cj_postage_amount',
                       'cj_product_amount', 'cj_lines', 'cj_order_code', 'cj_attempt_history',
                       'cj_attempt'):
            batch_op.drop_column(column)
