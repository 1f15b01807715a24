"""Initial schema: stores, events, jobs, orders, mappings, shipping rules, CJ account state.

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cj_account_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('access_token_enc', sa.Text(), nullable=True),
    sa.Column('access_expires_at', sa.DateTime(), nullable=True),
    sa.Column('refresh_token_enc', sa.Text(), nullable=True),
    sa.Column('refresh_expires_at', sa.DateTime(), nullable=True),
    sa.Column('open_id', sa.String(length=64), nullable=True),
    sa.Column('last_get_token_at', sa.DateTime(), nullable=True),
    sa.Column('next_request_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # The singleton row every worker locks for the CJ throttle and token refresh.
    op.bulk_insert(sa.table('cj_account_state', sa.column('id', sa.Integer()),
                            sa.column('next_request_at', sa.Float())), [{'id': 1, 'next_request_at': 0.0}])
    op.create_table('cj_variant_cache',
    sa.Column('variant_sku', sa.String(length=100), nullable=False),
    sa.Column('vid', sa.String(length=64), nullable=True),
    sa.Column('fetched_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('variant_sku')
    )
    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('run_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_claim', ['status', 'run_at'], unique=False)
        batch_op.create_index('uq_jobs_queued_dedupe', ['dedupe_key'], unique=True, sqlite_where=sa.text("status = 'queued'"), postgresql_where=sa.text("status = 'queued'"))

    op.create_table('periodic_schedule',
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('next_run_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('kind')
    )
    op.create_table('shipping_rules',
    sa.Column('country_code', sa.String(length=8), nullable=False),
    sa.Column('logistic_names', sa.JSON(), nullable=False),
    sa.Column('max_shipping_cost', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('country_code')
    )
    op.create_table('stores',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('webhook_secret_enc', sa.Text(), nullable=False),
    sa.Column('previous_webhook_secret_enc', sa.Text(), nullable=True),
    sa.Column('credentials_enc', sa.Text(), nullable=True),
    sa.Column('api_base_url', sa.String(length=500), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('uninstalled_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'domain', name='uq_stores_platform_domain')
    )
    op.create_table('worker_heartbeats',
    sa.Column('worker_id', sa.String(length=128), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('beat_at', sa.DateTime(), nullable=False),
    sa.Column('current_job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.PrimaryKeyConstraint('worker_id')
    )
    op.create_table('orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('platform_order_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('hold_reason', sa.String(length=64), nullable=True),
    sa.Column('hold_detail', sa.Text(), nullable=True),
    sa.Column('canonical', sa.JSON(), nullable=False),
    sa.Column('platform_updated_at', sa.DateTime(), nullable=True),
    sa.Column('financial_status', sa.String(length=32), nullable=True),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.Column('test', sa.Boolean(), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.Column('total_price', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('cj_order_number', sa.String(length=50), nullable=False),
    sa.Column('cj_create_state', sa.String(length=16), nullable=True),
    sa.Column('cj_order_id', sa.String(length=64), nullable=True),
    sa.Column('cj_status', sa.String(length=32), nullable=True),
    sa.Column('cj_logistic_name', sa.String(length=100), nullable=True),
    sa.Column('cj_shipping_cost', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('cj_order_amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('cj_confirmed', sa.Boolean(), nullable=False),
    sa.Column('cj_pay_state', sa.String(length=16), nullable=True),
    sa.Column('cj_paid_at', sa.DateTime(), nullable=True),
    sa.Column('last_cj_update_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cj_order_number', name='uq_orders_cj_order_number'),
    sa.UniqueConstraint('store_id', 'platform_order_id', name='uq_orders_store_platform_order')
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_cj_order_id', ['cj_order_id'], unique=False)
        batch_op.create_index('ix_orders_state', ['state'], unique=False)

    op.create_table('sku_mappings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_sku', sa.String(length=255), nullable=True),
    sa.Column('store_variant_id', sa.String(length=64), nullable=True),
    sa.Column('cj_vid', sa.String(length=64), nullable=False),
    sa.Column('cj_sku', sa.String(length=100), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('store_id', 'store_sku', name='uq_sku_mappings_store_sku'),
    sa.UniqueConstraint('store_id', 'store_variant_id', name='uq_sku_mappings_store_variant')
    )
    op.create_table('webhook_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('topic', sa.String(length=128), nullable=False),
    sa.Column('delivery_id', sa.String(length=255), nullable=True),
    sa.Column('subject_id', sa.String(length=64), nullable=True),
    sa.Column('raw_body', sa.LargeBinary(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('processed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_events_subject_id'), ['subject_id'], unique=False)

    op.create_table('delivery_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope', 'key', name='uq_delivery_keys_scope_key')
    )
    op.create_table('external_calls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('operation', sa.String(length=64), nullable=False),
    sa.Column('request', sa.JSON(), nullable=True),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('external_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_calls_order_id'), ['order_id'], unique=False)

    op.create_table('order_transitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('from_state', sa.String(length=32), nullable=True),
    sa.Column('to_state', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('order_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_transitions_order_id'), ['order_id'], unique=False)

    op.create_table('shipments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tracking_number', sa.String(length=100), nullable=False),
    sa.Column('carrier', sa.String(length=100), nullable=True),
    sa.Column('tracking_url', sa.String(length=500), nullable=True),
    sa.Column('store_line_ids', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('store_fulfillment_id', sa.String(length=255), nullable=True),
    sa.Column('replaces_shipment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('written_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_id', 'tracking_number', name='uq_shipments_order_tracking')
    )
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipments_order_id'), ['order_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipments_order_id'))

    op.drop_table('shipments')
    with op.batch_alter_table('order_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_transitions_order_id'))

    op.drop_table('order_transitions')
    with op.batch_alter_table('external_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_calls_order_id'))

    op.drop_table('external_calls')
    op.drop_table('delivery_keys')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_events_subject_id'))

    op.drop_table('webhook_events')
    op.drop_table('sku_mappings')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_state')
        batch_op.drop_index('ix_orders_cj_order_id')

    op.drop_table('orders')
    op.drop_table('worker_heartbeats')
    op.drop_table('stores')
    op.drop_table('shipping_rules')
    op.drop_table('periodic_schedule')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('uq_jobs_queued_dedupe', sqlite_where=sa.text("status = 'queued'"), postgresql_where=sa.text("status = 'queued'"))
        batch_op.drop_index('ix_jobs_claim')

    op.drop_table('jobs')
    op.drop_table('cj_variant_cache')
    op.drop_table('cj_account_state')
