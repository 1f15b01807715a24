"""When CJ's variant (its product id and price) was last read for a mapping: the poll reads it again weekly.

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.add_column(sa.Column('cj_facts_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.drop_column('cj_facts_at')
