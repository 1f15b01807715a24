"""CJ order parts: the orders CJ split out of one of ours (ORDERSPLIT), each read for its own parcel.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'cj_order_parts',
        sa.Column('id', BigId, nullable=False),
        sa.Column('order_id', BigId, nullable=False),
        sa.Column('part_ref', sa.String(length=64), nullable=False),
        sa.Column('confirmed', sa.Boolean(), nullable=False),
        sa.Column('store_line_ids', sa.JSON(), nullable=True),
        sa.Column('cj_status', sa.String(length=32), nullable=True),
        sa.Column('tracking_number', sa.String(length=100), nullable=True),
        sa.Column('read_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('order_id', 'part_ref', name='uq_cj_order_parts_order_part'))
    with op.batch_alter_table('cj_order_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cj_order_parts_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cj_order_parts_part_ref'), ['part_ref'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cj_order_parts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cj_order_parts_part_ref'))
        batch_op.drop_index(batch_op.f('ix_cj_order_parts_order_id'))
    op.drop_table('cj_order_parts')
