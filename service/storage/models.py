"""SQLAlchemy models: stores, inbound events, jobs, orders and their history, mappings, CJ state."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (JSON, BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer,
                        LargeBinary, Numeric, SmallInteger, String, Text, UniqueConstraint, false, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from service.timeutil import utcnow

# Integer ids that are BIGINT on PostgreSQL but still INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSON, list: JSON}


class Store(Base):
    """A merchant's store on one platform; credentials are stored encrypted."""
    __tablename__ = "stores"
    __table_args__ = (UniqueConstraint("platform", "domain", name="uq_stores_platform_domain"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    domain: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    webhook_secret_enc: Mapped[str] = mapped_column(Text)
    previous_webhook_secret_enc: Mapped[str | None] = mapped_column(Text)
    previous_webhook_secret_until: Mapped[datetime | None] = mapped_column(DateTime)  # a rotated-out secret expires
    credentials_enc: Mapped[str | None] = mapped_column(Text)
    api_base_url: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    adapter_state: Mapped[dict] = mapped_column(JSON, default=dict)  # facts the adapter learned (e.g. tracking API)
    poll_cursor: Mapped[datetime | None] = mapped_column(DateTime)  # orders modified before this were polled
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_poll_result: Mapped[str | None] = mapped_column(String(255))  # what the last poll found, or why none ran
    webhook_misses: Mapped[int] = mapped_column(Integer, default=0)  # order states only polling found
    last_webhook_miss_at: Mapped[datetime | None] = mapped_column(DateTime)
    uninstalled_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When the store was registered or last re-activated: an uninstall signed before it is a replay.
    activated_at: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow)
    # Stock sync: units kept back from CJ's stock (a mapping's own buffer wins), and where the store counts it.
    stock_buffer: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    stock_location_id: Mapped[str | None] = mapped_column(String(255))  # Shopify location; None: the only one
    # Off (None) unless the merchant sets one: {"multiplier": "2.5", "add": "0", "ending": ".99"}; the store's price
    # of a mapped variant then follows CJ's price through it.
    pricing_rule: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """One accepted inbound delivery, raw body exactly as received."""
    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(128))
    delivery_id: Mapped[str | None] = mapped_column(String(255))
    # The platform order the event is about, set when processed (privacy redaction finds events by it).
    subject_id: Mapped[str | None] = mapped_column(String(64), index=True)
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(32), default="queued")
    note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime)


class RedactedOrder(Base):
    """A tombstone: the store asked us to erase this order's customer data; no later delivery brings it back."""
    __tablename__ = "redacted_orders"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    platform_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    redacted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DeliveryKey(Base):
    """Dedupe ledger: a delivery whose key is already here was seen before."""
    __tablename__ = "delivery_keys"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_delivery_keys_scope_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(300))
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Job(Base):
    """A unit of background work; payload holds ids only."""
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "status", "run_at"),
        # Claiming walks queued jobs in claim order; sorting every due job per claim cost 26 ms with
        # 15,000 queued (bench/ingest.py --workers).
        Index("ix_jobs_queued_claim_order", "priority", "run_at", "id",
              sqlite_where=text("status = 'queued'"), postgresql_where=text("status = 'queued'")),
        # Only queued twins merge: a trigger that arrives while a job runs must run again after it.
        Index("uq_jobs_queued_dedupe", "dedupe_key", unique=True,
              sqlite_where=text("status = 'queued'"), postgresql_where=text("status = 'queued'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    # Claim order, lower first: set from the kind by service.jobs.queue.priority_of (the database's 3 is its default).
    priority: Mapped[int] = mapped_column(SmallInteger, server_default=text("3"))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    run_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class PeriodicSchedule(Base):
    """When each periodic job kind is next due; workers enqueue it, so no cron is needed."""
    __tablename__ = "periodic_schedule"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    current_job_id: Mapped[int | None] = mapped_column(BigId)


class Order(Base):
    """A store order in canonical form plus everything we did for it at CJ and back at the store."""
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "platform_order_id", name="uq_orders_store_platform_order"),
        UniqueConstraint("cj_order_number", name="uq_orders_cj_order_number"),
        Index("ix_orders_state", "state"),
        Index("ix_orders_cj_order_id", "cj_order_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    platform_order_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(32), default="received")
    hold_reason: Mapped[str | None] = mapped_column(String(64))
    hold_detail: Mapped[str | None] = mapped_column(Text)
    canonical: Mapped[dict] = mapped_column(JSON, default=dict)
    platform_updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    financial_status: Mapped[str | None] = mapped_column(String(32))
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    currency: Mapped[str | None] = mapped_column(String(8))
    ship_by: Mapped[datetime | None] = mapped_column(DateTime)  # the platform's hand-over deadline (canonical)
    total_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    cj_order_number: Mapped[str] = mapped_column(String(50))  # of the current CJ attempt
    cj_attempt: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))  # 0 = first
    cj_attempt_history: Mapped[list] = mapped_column(JSON, default=list)  # earlier CJ orders of this store order
    cj_create_state: Mapped[str | None] = mapped_column(String(16))  # None, pending, created
    cj_order_id: Mapped[str | None] = mapped_column(String(64))  # CJ's numeric order id (createOrderV2 orderId)
    cj_order_code: Mapped[str | None] = mapped_column(String(64))  # CJ's "CJ…" order code, shown on My CJ
    # What the create request sent: [{line_id, line_ref, vid, quantity}]; write-back never ships more.
    cj_lines: Mapped[list | None] = mapped_column(JSON)
    cj_status: Mapped[str | None] = mapped_column(String(32))
    cj_logistic_name: Mapped[str | None] = mapped_column(String(100))
    cj_from_country: Mapped[str | None] = mapped_column(String(8))  # the CJ warehouse country it ships from
    cj_shipping_cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    cj_order_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    cj_product_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    cj_postage_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # what CJ's create answer charges
    usd_rate: Mapped[Decimal | None] = mapped_column(Numeric(18, 8))  # USD per unit of `currency`, as sent to CJ
    cj_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    cj_pay_state: Mapped[str | None] = mapped_column(String(16))  # None, pending, paid
    cj_paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_cj_update_at: Mapped[datetime | None] = mapped_column(DateTime)
    # CJ said something about this order (a webhook, which is only a hint): read it from CJ's API soon.
    cj_sync_requested_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    # A store change for this order is waiting for the order lock (set by the event job, cleared when applied).
    store_change_waiting_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_holds: Mapped[list] = mapped_column(JSON, default=list)  # holds a human has cleared
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    transitions: Mapped[list["OrderTransition"]] = relationship(
        back_populates="order", order_by="OrderTransition.id", cascade="all, delete-orphan")
    shipments: Mapped[list["Shipment"]] = relationship(
        back_populates="order", order_by="Shipment.id", cascade="all, delete-orphan")


class OrderTransition(Base):
    __tablename__ = "order_transitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="transitions")


class Shipment(Base):
    """A tracking number CJ reported for an order, and whether it reached the store."""
    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("order_id", "tracking_number", name="uq_shipments_order_tracking"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    tracking_number: Mapped[str] = mapped_column(String(100))
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    store_line_ids: Mapped[list | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, written (replaced: old rows)
    store_fulfillment_id: Mapped[str | None] = mapped_column(String(255))
    # Another parcel of the same lines: its number is added to that shipment's fulfillment, never swapped in.
    adds_to_shipment_id: Mapped[int | None] = mapped_column(BigId)
    last_error: Mapped[str | None] = mapped_column(Text)
    written_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="shipments")


class CjOrderPart(Base):
    """A CJ order that CJ split out of one of ours (ORDERSPLIT): read from CJ's API for its own parcel."""
    __tablename__ = "cj_order_parts"
    __table_args__ = (UniqueConstraint("order_id", "part_ref", name="uq_cj_order_parts_order_part"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    part_ref: Mapped[str] = mapped_column(String(64), index=True)  # CJ's orderCode (or id) of the part
    # Set once CJ's API confirmed the part is ours (the message only claimed it).
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    store_line_ids: Mapped[list | None] = mapped_column(JSON)  # the store lines its products are
    cj_status: Mapped[str | None] = mapped_column(String(32))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PlatformPublicKey(Base):
    """A platform's public key for its signed notices (eBay's X-EBAY-SIGNATURE), fetched by key id in the worker."""
    __tablename__ = "platform_public_keys"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    kid: Mapped[str] = mapped_column(String(128), primary_key=True)
    key_pem: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(16))
    fetched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AlertState(Base):
    """An alert seen: since when, whether it was sent, and when it cleared (each is sent once until it clears)."""
    __tablename__ = "alert_states"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime)


class ReconciliationReport(Base):
    """A week's reconciliation, written by the weekly job: the CSV and its totals."""
    __tablename__ = "reconciliation_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, unique=True)
    period_end: Mapped[date] = mapped_column(Date)
    csv_text: Mapped[str] = mapped_column(Text)
    summary: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class UnmatchedCjOrder(Base):
    """A CJ order on CJ's order list that no store order of ours accounts for (found by the daily sweep)."""
    __tablename__ = "unmatched_cj_orders"

    cj_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cj_order_code: Mapped[str | None] = mapped_column(String(64))
    order_num: Mapped[str | None] = mapped_column(String(100))  # the orderNumber it was created with
    cj_status: Mapped[str | None] = mapped_column(String(32))
    order_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    product_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    postage_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    created_at_cj: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    paid_at_cj: Mapped[datetime | None] = mapped_column(DateTime)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # No longer on the swept lists (cancelled, or deleted while unpaid): no money, left out of reconciliation.
    gone_at: Mapped[datetime | None] = mapped_column(DateTime)


class ExternalCall(Base):
    """What we sent to (or, in dry-run, would have sent to) CJ or a store, and what came back."""
    __tablename__ = "external_calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(64))
    request: Mapped[dict | None] = mapped_column(JSON)
    response: Mapped[dict | None] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(16))  # ok, error, unknown, dry_run
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SkuMapping(Base):
    """Store SKU or variant id → CJ variant id."""
    __tablename__ = "sku_mappings"
    __table_args__ = (
        UniqueConstraint("store_id", "store_sku", name="uq_sku_mappings_store_sku"),
        UniqueConstraint("store_id", "store_variant_id", name="uq_sku_mappings_store_variant"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    store_sku: Mapped[str | None] = mapped_column(String(255))
    store_variant_id: Mapped[str | None] = mapped_column(String(64))
    cj_vid: Mapped[str] = mapped_column(String(64))
    cj_sku: Mapped[str | None] = mapped_column(String(100))
    cj_pid: Mapped[str | None] = mapped_column(String(64), index=True)  # CJ's product: its PRODUCT messages name it
    source: Mapped[str] = mapped_column(String(16), default="admin")  # admin, auto
    # Stock sync. The merchant stocks this variant themselves: its store quantity is never written.
    self_stocked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    stock_buffer: Mapped[int | None] = mapped_column(Integer)  # None: the store's buffer
    # CJ no longer sells it (1602000-1602003): the store shows 0 until a read finds it again.
    supplier_unavailable: Mapped[str | None] = mapped_column(Text)  # why, and since when
    cj_stock: Mapped[int | None] = mapped_column(Integer)  # CJ's available stock in the warehouses we ship from
    cj_stock_at: Mapped[datetime | None] = mapped_column(DateTime)
    stock_read_requested_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)  # a hint asked for a read
    stock_read_why: Mapped[str | None] = mapped_column(String(32))  # webhook, poll, resync, order
    stock_hint_at: Mapped[datetime | None] = mapped_column(DateTime)  # the latest hint (a read clears older ones)
    cj_facts_at: Mapped[datetime | None] = mapped_column(DateTime)  # CJ's variant (pid, price) last read
    want_quantity: Mapped[int | None] = mapped_column(Integer)  # what the store should show, once decided
    stock_write_after: Mapped[datetime | None] = mapped_column(DateTime)  # the store limits writes: not before
    want_why: Mapped[str | None] = mapped_column(String(32))
    store_quantity: Mapped[int | None] = mapped_column(Integer)  # the last quantity written to the store
    store_quantity_at: Mapped[datetime | None] = mapped_column(DateTime)
    store_quantity_why: Mapped[str | None] = mapped_column(String(32))
    store_stock_ref: Mapped[dict | None] = mapped_column(JSON, default=dict)  # the adapter's ids (inventory item, parent)
    stock_write_error: Mapped[str | None] = mapped_column(Text)
    # CJ's price (and the shipping estimate) leaves less than MARGIN_ALERT_PERCENT of the store's price: why.
    margin_warning: Mapped[str | None] = mapped_column(Text)
    want_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # the pricing rule's price, store currency
    store_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # the last price written to the store
    store_price_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class CjVariantCache(Base):
    """CJ's answer to 'which vid has this variant SKU' (vid None = CJ has no such SKU)."""
    __tablename__ = "cj_variant_cache"

    variant_sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    vid: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FreightQuote(Base):
    """CJ's freightCalculate answer for one (origin, destination, zone, variants and quantities), reused for a while."""
    __tablename__ = "freight_quotes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the request's parts
    start_country: Mapped[str] = mapped_column(String(8))
    end_country: Mapped[str] = mapped_column(String(8))
    zone: Mapped[str | None] = mapped_column(String(20))  # the zip, where CJ prices by zone (FREIGHT_ZIP_COUNTRIES)
    products: Mapped[list] = mapped_column(JSON, default=list)
    options: Mapped[list] = mapped_column(JSON, default=list)
    fetched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class VariantStock(Base):
    """CJ's stock of one variant per warehouse country, as last read (/product/stock/queryByVid)."""
    __tablename__ = "variant_stock"

    vid: Mapped[str] = mapped_column(String(64), primary_key=True)
    by_country: Mapped[dict] = mapped_column(JSON, default=dict)  # {"US": 12, "CN": 3400}
    fetched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CjProductSubscription(Base):
    """A CJ product whose PRODUCT, VARIANT and STOCK messages CJ sends us (/webhook/product/subscribe)."""
    __tablename__ = "cj_product_subscriptions"

    pid: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscribed_at: Mapped[datetime | None] = mapped_column(DateTime)  # None: not (yet) accepted by CJ
    refused: Mapped[str | None] = mapped_column(Text)  # CJ's answer when it refused (e.g. the level's cap)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class CjVariantPrice(Base):
    """CJ's sell price of a mapped variant each time it changed (USD), as CJ's variant API answered it."""
    __tablename__ = "cj_variant_prices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vid: Mapped[str] = mapped_column(String(64), index=True)
    price: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ShippingRule(Base):
    """Allowed CJ logistic names for a destination country ('*' = default), with a cost cap."""
    __tablename__ = "shipping_rules"

    country_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    logistic_names: Mapped[list] = mapped_column(JSON, default=list)
    # Methods allowed when the order ships from another origin than CJ_FROM_COUNTRY: {"US": ["USPS+"]}.
    logistic_names_by_origin: Mapped[dict] = mapped_column(JSON, default=dict)
    max_shipping_cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class CjAccountState(Base):
    """Singleton row: CJ tokens, openId, the shared request throttle slot, and the admin page's last sign-out."""
    __tablename__ = "cj_account_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    open_id_enc: Mapped[str | None] = mapped_column(Text)  # CJ's openId keys its webhook signatures: sealed
    last_get_token_at: Mapped[datetime | None] = mapped_column(DateTime)
    next_request_at: Mapped[float] = mapped_column(Float, default=0.0)
    # Daily budgets CJ said are used up, until when: {"points": iso, "<operation>": iso}. Kept apart from
    # next_request_at so that an exhausted points budget never holds back the 0-point order and payment calls.
    exhausted_until: Mapped[dict] = mapped_column(JSON, default=dict)
    webhook_registration: Mapped[dict] = mapped_column(JSON, default=dict)  # the last webhook/set: when, URL, answer
    # This deployment's part of every CJ orderNumber (drawn by migration 0005): two deployments sharing one CJ
    # account never number two orders alike. None: numbered as before it existed (CJB<store>-<order>).
    order_number_prefix: Mapped[str | None] = mapped_column(String(12))
    # The account's own limits as CJ states them (GET /setting/get), read at start and daily.
    account_settings: Mapped[dict] = mapped_column(JSON, default=dict)
    account_settings_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Points this service spent today (UTC), counted per call from CJ's published costs.
    points_day: Mapped[str | None] = mapped_column(String(10))
    points_used: Mapped[int] = mapped_column(Integer, default=0)
    wallet: Mapped[dict | None] = mapped_column(JSON, default=dict)  # getBalance's answer, amounts as decimal strings
    wallet_read_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The last complete sweep of CJ's order list (UnmatchedCjOrder): when, and what it found.
    orders_swept_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Points the stock poll spent today (UTC): it keeps within STOCK_POLL_POINTS_SHARE of the daily budget.
    stock_poll_day: Mapped[str | None] = mapped_column(String(10))
    stock_poll_points: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # This deployment's admin page: a session signed in at or before this time is refused (set by sign-out,
    # which so ends every browser's session, a copied cookie's too). Kept on this singleton row to need no table.
    ui_sessions_valid_after: Mapped[datetime | None] = mapped_column(DateTime)


class ExchangeRate(Base):
    """USD per unit of a store currency: CJ takes declared amounts (shopAmount, unitPrice) in USD."""
    __tablename__ = "exchange_rates"

    currency: Mapped[str] = mapped_column(String(8), primary_key=True)
    usd_per_unit: Mapped[Decimal] = mapped_column(Numeric(18, 8))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
