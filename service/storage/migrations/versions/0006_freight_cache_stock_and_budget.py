"""Freight quotes cached, CJ stock per warehouse, the origin an order ships from, shipping methods per
origin, the CJ account's own limits and the points spent today.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'freight_quotes',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('start_country', sa.String(length=8), nullable=False),
        sa.Column('end_country', sa.String(length=8), nullable=False),
        sa.Column('zone', sa.String(length=20), nullable=True),
        sa.Column('products', sa.JSON(), nullable=False),
        sa.Column('options', sa.JSON(), nullable=False),
        sa.Column('fetched_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'))
    op.create_table(
        'variant_stock',
        sa.Column('vid', sa.String(length=64), nullable=False),
        sa.Column('by_country', sa.JSON(), nullable=False),
        sa.Column('fetched_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('vid'))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cj_from_country', sa.String(length=8), nullable=True))
    with op.batch_alter_table('shipping_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('logistic_names_by_origin', sa.JSON(), nullable=False,
                                      server_default=sa.text("'{}'")))
    with op.batch_alter_table('cj_account_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_settings', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column('account_settings_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('points_day', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('points_used', sa.Integer(), nullable=False, server_default=sa.text('0')))


def downgrade() -> None:
    with op.batch_alter_table('cj_account_state', schema=None) as batch_op:
        for column in ('points_used', 'points_day', 'account_settings_at', 'account_settings'):
            batch_op.drop_column(column)
    with op.batch_alter_table('shipping_rules', schema=None) as batch_op:
        batch_op.drop_column('logistic_names_by_origin')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('cj_from_country')
    op.drop_table('variant_stock')
    op.drop_table('freight_quotes')
