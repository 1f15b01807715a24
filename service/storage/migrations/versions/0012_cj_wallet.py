"""CJ account: the wallet balance as getBalance last answered, and when.

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cj_account_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wallet', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('wallet_read_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cj_account_state', schema=None) as batch_op:
        batch_op.drop_column('wallet_read_at')
        batch_op.drop_column('wallet')
