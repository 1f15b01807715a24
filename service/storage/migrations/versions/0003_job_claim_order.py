"""Jobs: the claim order (priority) stored on the row, and a partial index that serves the claim.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# As in service/job_queue.py (now service/jobs/queue.py) at the time of this migration: existing rows get the
# order they had.
_PRIORITY_SQL = ("CASE kind WHEN 'apply_cj_event' THEN 0 WHEN 'write_back' THEN 0 WHEN 'forward_order' THEN 1 "
                 "WHEN 'cancel_cj_order' THEN 1 WHEN 'sync_cj_order' THEN 1 WHEN 'process_event' THEN 2 ELSE 3 END")


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.SmallInteger(), nullable=False, server_default=sa.text('3')))
    op.execute(f"UPDATE jobs SET priority = {_PRIORITY_SQL}")
    op.create_index('ix_jobs_queued_claim_order', 'jobs', ['priority', 'run_at', 'id'], unique=False,
                    sqlite_where=sa.text("status = 'queued'"), postgresql_where=sa.text("status = 'queued'"))


def downgrade() -> None:
    op.drop_index('ix_jobs_queued_claim_order', table_name='jobs',
                  sqlite_where=sa.text("status = 'queued'"), postgresql_where=sa.text("status = 'queued'"))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('priority')
