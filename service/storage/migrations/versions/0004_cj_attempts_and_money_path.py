"""Orders: CJ attempts and their history, CJ's order code, the lines sent, CJ's amounts, the USD rate used,
held-for-lock and acknowledged-hold marks, a CJ-read-requested mark (CJ webhooks are hints); shipments add to
(never replace) another; exchange rates; CJ budget exhaustion kept apart from the request throttle; CJ's
openId sealed.

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
        batch_op.add_column(sa.Column('webhook_registration', sa.JSON(), nullable=False,
                                      server_default=sa.text("'{}'")))
    op.create_table(
        'exchange_rates',
        sa.Column('currency', sa.String(length=8), nullable=False),
        sa.Column('usd_per_unit', sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('currency'))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cj_sync_requested_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_cj_sync_requested_at'), ['cj_sync_requested_at'], unique=False)
    # The openId is sealed from now on; a plain one already stored is dropped (it is filled in again from
    # the next token response): the migration has no SECRET_KEY to seal it with.
    with op.batch_alter_table('cj_account_state', schema=None) as batch_op:
        batch_op.drop_column('open_id')
        batch_op.add_column(sa.Column('open_id_enc', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cj_account_state', schema=None) as batch_op:
        batch_op.drop_column('open_id_enc')
        batch_op.add_column(sa.Column('open_id', sa.String(length=64), nullable=True))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_cj_sync_requested_at'))
        batch_op.drop_column('cj_sync_requested_at')
    op.drop_table('exchange_rates')
    with op.batch_alter_table('cj_account_state', schema=None) as batch_op:
        batch_op.drop_column('webhook_registration')
        batch_op.drop_column('exhausted_until')
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.alter_column('adds_to_shipment_id', new_column_name='replaces_shipment_id')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        for column in ('acknowledged_holds', 'store_change_waiting_at', 'usd_rate', 'cj_postage_amount',
                       'cj_product_amount', 'cj_lines', 'cj_order_code', 'cj_attempt_history',
                       'cj_attempt'):
            batch_op.drop_column(column)
