"""Privacy requests from a store: erase a customer's personal data, or everything of a shop."""
from __future__ import annotations

import copy

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.storage.models import ExternalCall, Order, Store, WebhookEvent
from service.pipeline.order_state import note
from datetime import timedelta

from service.timeutil import iso, utcnow

REDACTED = "[redacted]"
# createOrderV2 fields that carry personal data (country and province stay for reconciliation).
CJ_PII_FIELDS = ("shippingAddress", "shippingAddress2", "shippingCustomerName", "shippingPhone", "email",
                 "shippingZip", "houseNumber", "taxId", "consigneeID", "shippingCity", "shippingCounty")
CANONICAL_PII_FIELDS = ("email", "note")


def redact_orders(session: Session, *, store: Store, store_order_ids: list[str]) -> int:
    """Erase names, addresses, emails, phones and raw payloads of these orders; returns how many."""
    if not store_order_ids:
        return 0
    orders = session.scalars(select(Order).where(Order.store_id == store.id,
                                                 Order.platform_order_id.in_(store_order_ids))).all()
    for order in orders:
        canonical = copy.deepcopy(order.canonical or {})
        canonical["shipping_address"] = None
        for key in CANONICAL_PII_FIELDS:
            canonical[key] = None
        canonical["redacted_at"] = iso(utcnow())
        order.canonical = canonical
        for call in session.scalars(select(ExternalCall).where(ExternalCall.order_id == order.id)):
            for attr in ("request", "response"):
                value = getattr(call, attr)
                if isinstance(value, dict) and any(k in value for k in CJ_PII_FIELDS):
                    setattr(call, attr, {k: (REDACTED if k in CJ_PII_FIELDS else v) for k, v in value.items()})
        note(session, order, "customer_redacted", "personal data erased at the store's request")
    for event in session.scalars(select(WebhookEvent).where(WebhookEvent.store_id == store.id,
                                                          WebhookEvent.subject_id.in_(store_order_ids))):
        event.raw_body = b"{}"
        event.note = "payload erased at the store's request"
    return len(orders)


def erase_store(session: Session, *, store: Store) -> None:
    """Delete the store and, through the foreign keys, every order, event and mapping of it."""
    session.execute(delete(Store).where(Store.id == store.id))


def orders_held_for(session: Session, *, store: Store, store_order_ids: list[str]) -> list[str]:
    """Which of the named orders we hold data for (a data request is answered by the merchant)."""
    if not store_order_ids:
        return []
    return list(session.scalars(select(Order.platform_order_id).where(
        Order.store_id == store.id, Order.platform_order_id.in_(store_order_ids))))


def purge_old_events(session: Session, *, retention_days: int) -> int:
    """Delete handled deliveries (raw bodies hold personal data) older than the retention period."""
    cutoff = utcnow() - timedelta(days=retention_days)
    result = session.execute(delete(WebhookEvent).where(
        WebhookEvent.status.in_(("processed", "ignored", "rejected")), WebhookEvent.received_at < cutoff))
    return result.rowcount or 0
