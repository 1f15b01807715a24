"""process_event: a stored store delivery → canonical order upsert → next step enqueued."""
from __future__ import annotations

import logging
from decimal import Decimal

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from adapters import get_adapter
from adapters.base import (ORDER_CHANGED_EVENT, ORDER_DELETED_EVENT, ORDER_EVENT, PRIVACY_EVENT, UNINSTALL_EVENT,
                           NotSupported)
from service.intake import json_body
from service.canonical import CanonicalOrderError
from service.jobs.order_lock import order_lock
from service.jobs.outcomes import NeedsHuman, RetryLater
from service.jobs.queue import enqueue
from service.storage.models import Order, Store, WebhookEvent
from service.pipeline import after_submission, privacy
from service.pipeline.cj_attempts import cj_order_number, deployment_prefix
from service.pipeline.order_state import note, transition
from service.pipeline.store_context import store_context
from service.timeutil import parse_iso_utc, utcnow

log = logging.getLogger("cj_bridge.pipeline")

# Fields whose change means an order not yet at CJ should be looked at again.
_FORWARD_RELEVANT = ("lines", "shipping_address", "paid", "cancelled", "test", "financial_status")
# A store change waits for the order lock this long at a time (no attempt used): the job holding it is
# told (Order.store_change_waiting_at) and steps aside before its next CJ call.
WAIT_FOR_ORDER_SECONDS = 1.0


def process_event(session: Session, *, event_id: int, runtime=None) -> str:
    """Apply one stored store delivery; returns what happened (for the event row and logs).

    runtime is needed only when the payload is incomplete and the order must be fetched from the store.
    A change to an existing order is applied under that order's lock, as every job that touches an order is.
    """
    event = session.get(WebhookEvent, event_id)
    if event is None or event.status != "queued":
        return "already_processed"
    store = session.get(Store, event.store_id)
    adapter = get_adapter(store.platform)
    kind = adapter.event_kind(event.topic)
    if kind == UNINSTALL_EVENT:
        said_at = adapter.signed_time(json_body.loads(event.raw_body))
        if said_at is not None and store.activated_at is not None and said_at < store.activated_at:
            outcome = "stale_uninstall_ignored"  # older than the store's last activation: a replay, or out of order
        else:
            store.active = False
            store.uninstalled_at = utcnow()
            outcome = "store_deactivated"
    elif kind in (ORDER_EVENT, ORDER_CHANGED_EVENT):
        try:
            payload, topic = json_body.loads(event.raw_body), event.topic
            if kind == ORDER_CHANGED_EVENT:
                # The delivery names the order (Shopify's orders/edited carries the edit): read it whole.
                payload = _read_changed_order(session, adapter=adapter, store=store, payload=payload,
                                              runtime=runtime)
                topic = adapter.poll_topic or topic
            canonical = adapter.normalize(payload, topic=topic)
        except (CanonicalOrderError, ValueError) as exc:
            outcome = "rejected"
            event.note = str(exc)[:2000]
        except NotSupported as exc:
            outcome = f"ignored: {exc}"
        else:
            event.subject_id = canonical["store_order_id"]
            if privacy.is_redacted(session, store_id=store.id, store_order_id=canonical["store_order_id"]):
                # The store had this customer's data erased: a later delivery (or a replay) never brings it back.
                canonical = privacy.without_personal_data(canonical)
                event.raw_body = b"{}"
            if not canonical["lines"] and runtime is not None:
                canonical = _refetch(session, adapter=adapter, store=store, canonical=canonical, runtime=runtime,
                                     topic=event.topic)
            with _order_locked(session, store_id=store.id, store_order_id=canonical["store_order_id"]):
                return _finish(session, event, store, apply_order(session, store=store, canonical=canonical))
    elif kind == ORDER_DELETED_EVENT:
        try:
            store_order_id = adapter.deleted_order_id(json_body.loads(event.raw_body))
        except ValueError as exc:
            outcome = "rejected"
            event.note = str(exc)
        else:
            event.subject_id = store_order_id
            if not _still_deleted(session, adapter=adapter, store=store, store_order_id=store_order_id,
                                  runtime=runtime):
                outcome = "ignored: the store order is no longer deleted (restored since, or a replay)"
            else:
                with _order_locked(session, store_id=store.id, store_order_id=store_order_id):
                    return _finish(session, event, store,
                                   apply_deletion(session, store=store, store_order_id=store_order_id))
    elif kind == PRIVACY_EVENT:
        request = adapter.privacy_request(event.topic, json_body.loads(event.raw_body))
        if request.action == "redact_shop":
            privacy.erase_store(session, store=store)  # the event row goes with it
            log.info("store_erased", extra={"fields": {"store_id": store.id}})
            return "store_erased"
        if request.action == "redact_customer":
            count = privacy.redact_orders(session, store=store, store_order_ids=request.store_order_ids)
            event.raw_body = b"{}"  # the request itself names the customer
            outcome = f"redacted {count} order(s)"
        else:
            held = privacy.orders_held_for(session, store=store, store_order_ids=request.store_order_ids)
            outcome = "data request: we hold orders " + (", ".join(held) or "none") + "; see GET /admin/orders"
    else:
        outcome = "ignored"
    return _finish(session, event, store, outcome)


def _finish(session: Session, event: WebhookEvent, store: Store, outcome: str) -> str:
    """Record what became of the event and commit it together with the order change it made."""
    event.status = "rejected" if outcome == "rejected" else "processed"
    event.note = (event.note or outcome)[:2000]
    event.processed_at = utcnow()
    session.commit()
    log.info("event_processed", extra={"fields": {"event_id": event.id, "store_id": store.id,
                                                   "topic": event.topic, "outcome": outcome}})
    return outcome


@contextmanager
def _order_locked(session: Session, *, store_id: int, store_order_id: str) -> Iterator[None]:
    """The order's lock for the block (a new order needs none: no other job knows it yet).

    When another job holds the order (a forward waiting for its CJ slot, say), the order is marked so that
    job steps aside before its next CJ call, and this event is retried in a moment: a cancel that lands
    while the order is being forwarded is applied before CJ is asked to create or pay it.
    """
    order_id = session.scalar(select(Order.id).where(Order.store_id == store_id,
                                                     Order.platform_order_id == store_order_id))
    with order_lock(session.get_bind(), order_id) as mine:
        if not mine:
            session.rollback()
            session.execute(update(Order).where(Order.id == order_id).values(store_change_waiting_at=utcnow()))
            session.commit()
            raise RetryLater(f"order {order_id} is being worked on by another job; this store change is "
                             "applied next", retry_after=WAIT_FOR_ORDER_SECONDS, count_attempt=False)
        yield


def apply_order(session: Session, *, store: Store, canonical: dict) -> str:
    """Upsert the order from a canonical snapshot, newest platform updated_at wins."""
    updated_at = parse_iso_utc(canonical["updated_at"])
    stmt = select(Order).where(Order.store_id == store.id, Order.platform_order_id == canonical["store_order_id"])
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    order = session.scalar(stmt)
    if order is None:
        order = Order(store_id=store.id, platform_order_id=canonical["store_order_id"], state="received",
                      cj_order_number=cj_order_number(store.id, canonical["store_order_id"],
                                                      prefix=deployment_prefix(session)))
        session.add(order)
        previous = None
    else:
        order.store_change_waiting_at = None
        if order.platform_updated_at and updated_at < order.platform_updated_at:
            return "stale"
        previous = order.canonical or {}
        if previous == canonical:
            return "unchanged"

    was_cancelled = order.cancelled
    order.canonical = canonical
    order.name = canonical.get("name")
    order.platform_updated_at = updated_at
    order.financial_status = canonical.get("financial_status")
    order.cancelled = bool(canonical["cancelled"])
    order.test = bool(canonical.get("test"))
    order.currency = canonical.get("currency")
    order.ship_by = parse_iso_utc(canonical["ship_by"]) if canonical.get("ship_by") else None
    order.total_price = Decimal(canonical["total_price"]) if canonical.get("total_price") else None
    session.flush()
    if previous is None:
        note(session, order, "received",
             f"{canonical['platform']} order {canonical.get('name') or order.platform_order_id}")

    if order.cj_create_state is not None:
        return after_submission.apply_store_change(session, order=order, previous=previous,
                                                   was_cancelled=was_cancelled)
    if order.cancelled:
        transition(session, order, "cancelled", reason="store_cancelled", detail="cancelled in the store before "
                   "it was sent to CJ")
        return "cancelled"
    if order.test:
        transition(session, order, "skipped", reason="test_order", detail="test orders are never sent to CJ")
        return "skipped"
    if not canonical["paid"]:
        transition(session, order, "skipped", reason="unpaid",
                   detail=f"financial status is {canonical.get('financial_status')!r}; the order goes through "
                          "when the store reports it paid")
        return "skipped"
    if order.state in ("received", "skipped", "cancelled") or (
            order.state in ("ready", "held") and (previous is None or _relevant_change(previous, canonical))):
        transition(session, order, "ready", reason="paid")
        enqueue(session, kind="forward_order", payload={"order_id": order.id},
                dedupe_key=f"forward_order:{order.id}")
        return "ready"
    return "updated"


def _relevant_change(before: dict, after: dict) -> bool:
    return any(before.get(k) != after.get(k) for k in _FORWARD_RELEVANT)


def apply_deletion(session: Session, *, store: Store, store_order_id: str) -> str:
    """The store deleted (trashed) the order: it is handled as a cancellation of its last state."""
    order = session.scalar(select(Order).where(Order.store_id == store.id,
                                               Order.platform_order_id == store_order_id))
    if order is None:
        return "unknown_order"
    if order.cancelled:
        return "unchanged"
    return apply_order(session, store=store, canonical=dict(order.canonical, cancelled=True))


def _still_deleted(session: Session, *, adapter, store: Store, store_order_id: str, runtime) -> bool:
    """Whether the store still has the order deleted (trashed), as its API says now.

    A deletion names the order only (WooCommerce: {"id": N}), so one trashing looks like the next and a
    captured delivery could be sent again after a restore: each delivery is applied only if the store agrees.
    Where the order cannot be read (no credentials, gone for good), the delivery's word stands.
    """
    if runtime is None:
        return True
    context = store_context(store, runtime)
    session.commit()  # no transaction stays open across the store call
    try:
        payload = adapter.fetch_order(http=runtime.http, store=context, store_order_id=store_order_id)
        return bool(adapter.normalize(payload, topic=adapter.poll_topic or "")["cancelled"])
    except (NotSupported, NeedsHuman, ValueError, CanonicalOrderError):
        return True


def _read_changed_order(session: Session, *, adapter, store: Store, payload, runtime) -> dict:
    """The whole order a change notice names, from the store's API (NotSupported when it cannot be read)."""
    store_order_id = adapter.changed_order_id(payload)
    if runtime is None:
        raise NotSupported("no runtime to read the order with")
    context = store_context(store, runtime)
    session.commit()  # no transaction stays open across the store call
    return adapter.fetch_order(http=runtime.http, store=context, store_order_id=store_order_id)


def _refetch(session: Session, *, adapter, store: Store, canonical: dict, runtime, topic: str) -> dict:
    """Some deliveries arrive without line items (WooCommerce#23335): read the order from the store."""
    context = store_context(store, runtime)
    session.commit()  # no transaction stays open across the store call
    try:
        payload = adapter.fetch_order(http=runtime.http, store=context, store_order_id=canonical["store_order_id"])
    except NotSupported:
        return canonical
    fetched = adapter.normalize(payload, topic=topic)
    return fetched if fetched["lines"] else canonical
