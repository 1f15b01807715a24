"""Stores: a rotated-out webhook secret is accepted until a time, no longer forever.

Existing previous secrets get the full grace period from now (service/web/admin/stores.py, ROTATION_GRACE).

Revision ID: 0007
Revises: 0006
"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_webhook_secret_until', sa.DateTime(), nullable=True))
    until = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=7)
    op.execute(sa.text("UPDATE stores SET previous_webhook_secret_until = :until "
                       "WHERE previous_webhook_secret_enc IS NOT NULL").bindparams(until=until))


def downgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('previous_webhook_secret_until')
