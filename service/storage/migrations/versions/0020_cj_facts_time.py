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
    # A variant whose product id is known was read before: its price counts as read some day of the past week,
    # spread by id, so the first week's price reads do not all fall on the poll's first pass.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE sku_mappings SET cj_facts_at = (now() AT TIME ZONE 'utc') - (id % 7) * interval '1 day' "
                   "WHERE cj_pid IS NOT NULL")
    else:
        op.execute("UPDATE sku_mappings SET cj_facts_at = datetime('now', '-' || (id % 7) || ' days') "
                   "WHERE cj_pid IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('sku_mappings') as batch:
        batch.drop_column('cj_facts_at')
