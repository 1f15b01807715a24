"""The time of a mapping's latest stock hint: a read clears only the hints older than itself.

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.add_column(sa.Column('stock_hint_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.drop_column('stock_hint_at')
