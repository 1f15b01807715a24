"""Privacy requests from a store: erase a customer's personal data, or everything of a shop."""
from __future__ import annotations

import copy

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.intake import json_body
from service.storage.models import ExternalCall, Job, Order, RedactedOrder, Store, WebhookEvent
from service.pipeline.order_state import note
from datetime import timedelta

from service.timeutil import iso, utcnow

REDACTED = "[redacted]"
# createOrderV2 fields that carry personal data (country and province stay for reconciliation).
CJ_PII_FIELDS = ("shippingAddress", "shippingAddress2", "shippingCustomerName", "shippingPhone", "email",
                 "shippingZip", "houseNumber", "taxId", "consigneeID", "shippingCity", "shippingCounty",
                 "zip")  # the freight request's zip, kept by dry-run
CANONICAL_PII_FIELDS = ("email", "note", "customer_ref")


def redact_orders(session: Session, *, store: Store, store_order_ids: list[str]) -> int:
    """Erase names, addresses, emails, phones and raw payloads of these orders; returns how many."""
    if not store_order_ids:
        return 0
    known = set(session.scalars(select(RedactedOrder.platform_order_id).where(
        RedactedOrder.store_id == store.id, RedactedOrder.platform_order_id.in_(store_order_ids))))
    for store_order_id in dict.fromkeys(store_order_ids):  # tombstones, also for orders we never saw
        if store_order_id not in known:
            session.add(RedactedOrder(store_id=store.id, platform_order_id=store_order_id, redacted_at=utcnow()))
    orders = session.scalars(select(Order).where(Order.store_id == store.id,
                                                 Order.platform_order_id.in_(store_order_ids))).all()
    for order in orders:
        order.canonical = dict(without_personal_data(order.canonical or {}), redacted_at=iso(utcnow()))
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
    # Deliveries never processed (their job crashed or is still waiting) have no subject yet: their bodies
    # are read to find the ones about these orders.
    wanted = set(store_order_ids)
    for event in session.scalars(select(WebhookEvent).where(WebhookEvent.store_id == store.id,
                                                          WebhookEvent.subject_id.is_(None),
                                                          WebhookEvent.status != "processed")):
        if _names_an_order(event.raw_body, wanted):
            event.raw_body = b"{}"
            event.note = "payload erased at the store's request"
    return len(orders)


def _names_an_order(raw_body: bytes, store_order_ids: set[str]) -> bool:
    try:
        payload = json_body.loads(raw_body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return any(i.encode() in raw_body for i in store_order_ids)  # not JSON: any mention counts
    return isinstance(payload, dict) and str(payload.get("id")) in store_order_ids


def without_personal_data(canonical: dict) -> dict:
    """The canonical order with the customer's personal data removed."""
    canonical = copy.deepcopy(canonical)
    canonical["shipping_address"] = None
    for key in CANONICAL_PII_FIELDS:
        canonical[key] = None
    return canonical


def is_redacted(session: Session, *, store_id: int, store_order_id: str) -> bool:
    return session.get(RedactedOrder, (store_id, store_order_id)) is not None


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
    """Delete deliveries (raw bodies hold personal data) older than the retention period.

    Handled or not: a delivery whose job crashed for good stays unhandled forever, and its customer's data with
    it. Only a delivery whose job is still queued or running is kept (it is about to be handled).
    """
    cutoff = utcnow() - timedelta(days=retention_days)
    live = {job.payload.get("event_id") for job in session.scalars(select(Job).where(
        Job.status.in_(("queued", "running")), Job.kind.in_(("process_event", "apply_cj_event"))))}
    stmt = delete(WebhookEvent).where(WebhookEvent.received_at < cutoff)
    live.discard(None)
    if live:
        stmt = stmt.where(WebhookEvent.id.not_in(live))
    return session.execute(stmt).rowcount or 0
