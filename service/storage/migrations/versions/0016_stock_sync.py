"""Stock sync: per mapping CJ's stock and what the store was given, per store a buffer and a location.

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.add_column(sa.Column('cj_pid', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('self_stocked', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('stock_buffer', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('supplier_unavailable', sa.Text(), nullable=True))
        batch.add_column(sa.Column('cj_stock', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('cj_stock_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('stock_read_requested_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('stock_read_why', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('want_quantity', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('want_why', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('store_quantity', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('store_quantity_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('store_quantity_why', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('store_stock_ref', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('stock_write_error', sa.Text(), nullable=True))
        batch.create_index('ix_sku_mappings_stock_read_requested_at', ['stock_read_requested_at'])
        batch.create_index('ix_sku_mappings_cj_pid', ['cj_pid'])
    with op.batch_alter_table('stores') as batch:
        batch.add_column(sa.Column('stock_buffer', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch.add_column(sa.Column('stock_location_id', sa.String(length=255), nullable=True))
    with op.batch_alter_table('cj_account_state') as batch:
        batch.add_column(sa.Column('stock_poll_day', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('stock_poll_points', sa.Integer(), server_default=sa.text('0'), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('cj_account_state') as batch:
        batch.drop_column('stock_poll_points')
        batch.drop_column('stock_poll_day')
    with op.batch_alter_table('stores') as batch:
        batch.drop_column('stock_location_id')
        batch.drop_column('stock_buffer')
    with op.batch_alter_table('sku_mappings') as batch:
        batch.drop_index('ix_sku_mappings_stock_read_requested_at')
        batch.drop_index('ix_sku_mappings_cj_pid')
        for column in ('stock_write_error', 'store_stock_ref', 'store_quantity_why', 'store_quantity_at',
                       'store_quantity', 'want_why', 'want_quantity', 'stock_read_why', 'stock_read_requested_at',
                       'cj_stock_at', 'cj_stock', 'supplier_unavailable', 'stock_buffer', 'self_stocked', 'cj_pid'):
            batch.drop_column(column)
