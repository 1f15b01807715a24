"""The admin page's sign-out ends every session signed in before it: the time, on the deployment's singleton row.

Revision ID: 0023
Revises: 0022
"""
from alembic import op
import sqlalchemy as sa

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cj_account_state') as batch:
        batch.add_column(sa.Column('ui_sessions_valid_after', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cj_account_state') as batch:
        batch.drop_column('ui_sessions_valid_after')
