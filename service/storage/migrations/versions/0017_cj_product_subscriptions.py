"""CJ product subscriptions, the history of CJ's variant sell prices, and a mapping's margin warning.

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'cj_product_subscriptions',
        sa.Column('pid', sa.String(length=64), nullable=False),
        sa.Column('subscribed_at', sa.DateTime(), nullable=True),
        sa.Column('refused', sa.Text(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('pid'))
    op.create_table(
        'cj_variant_prices',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('vid', sa.String(length=64), nullable=False),
        sa.Column('price', sa.Numeric(18, 2), nullable=False),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_cj_variant_prices_vid', 'cj_variant_prices', ['vid'])
    with op.batch_alter_table('sku_mappings') as batch:
        batch.add_column(sa.Column('margin_warning', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.drop_column('margin_warning')
    op.drop_index('ix_cj_variant_prices_vid', table_name='cj_variant_prices')
    op.drop_table('cj_variant_prices')
    op.drop_table('cj_product_subscriptions')
