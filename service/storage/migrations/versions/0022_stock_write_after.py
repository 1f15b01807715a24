"""A mapping's next stock write may wait (eBay limits revisions of a listing a day): the time it may go.

Revision ID: 0022
Revises: 0021
"""
from alembic import op
import sqlalchemy as sa

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.add_column(sa.Column('stock_write_after', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.drop_column('stock_write_after')
