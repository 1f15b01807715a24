"""CJ account: a random orderNumber prefix for this deployment, drawn once when the migration runs.

Two deployments sharing one CJ account (or a re-created SQLite file) would otherwise both number their
first store's orders CJB1-…, and CJ's 1603003 would bind one shop's order to the other's.

Revision ID: 0005
Revises: 0004
"""
import secrets

from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: the prefix is read by people on My CJ


def upgrade() -> None:
    with op.batch_alter_table('cj_account_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_number_prefix', sa.String(length=12), nullable=True))
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(5))
    op.execute(sa.text("UPDATE cj_account_state SET order_number_prefix = :prefix").bindparams(prefix=prefix))


def downgrade() -> None:
    with op.batch_alter_table('cj_account_state', schema=None) as batch_op:
        batch_op.drop_column('order_number_prefix')
