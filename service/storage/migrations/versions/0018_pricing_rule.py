"""Pricing rule per store (off unless set) and, per mapping, the price it asks for and the last one written.

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stores') as batch:
        batch.add_column(sa.Column('pricing_rule', sa.JSON(), nullable=True))
    with op.batch_alter_table('sku_mappings') as batch:
        batch.add_column(sa.Column('want_price', sa.Numeric(18, 2), nullable=True))
        batch.add_column(sa.Column('store_price', sa.Numeric(18, 2), nullable=True))
        batch.add_column(sa.Column('store_price_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.drop_column('store_price_at')
        batch.drop_column('store_price')
        batch.drop_column('want_price')
    with op.batch_alter_table('stores') as batch:
        batch.drop_column('pricing_rule')
