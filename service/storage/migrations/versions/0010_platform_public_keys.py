"""Platform public keys: eBay signs its notices with keys fetched by key id (kept, fetched in the worker).

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'platform_public_keys',
        sa.Column('platform', sa.String(length=32), nullable=False),
        sa.Column('kid', sa.String(length=128), nullable=False),
        sa.Column('key_pem', sa.Text(), nullable=False),
        sa.Column('digest', sa.String(length=16), nullable=False),
        sa.Column('fetched_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('platform', 'kid'))


def downgrade() -> None:
    op.drop_table('platform_public_keys')
