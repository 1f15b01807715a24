"""CJ ORDER and LOGISTIC messages (webhook or poll) applied to our orders."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.cj.order_ids import cj_ids
from service.intake import json_body
from service.jobs.order_lock import order_lock_or_retry
from service.cj.errors import CjApiError, CjTransportError, retry_if_transient
from service.jobs.outcomes import RetryLater
from service.jobs.queue import enqueue
from service.storage.models import Order, WebhookEvent
from service.pipeline.order_state import CJ_PAID_STATUSES, advance, hold, note, transition
from service.pipeline.shipments import record_shipment
from service.runtime import Runtime
from service.timeutil import utcnow

log = logging.getLogger("cj_bridge.pipeline")
DELIVERED_TRACKING_STATUS = 12
SYNCABLE_STATES = ("submitted", "paid", "shipped")


def _str(value) -> str | None:
    return None if value in (None, "") else str(value)


def find_order(session: Session, *, order_number: str | None, cj_order_id: str | None) -> Order | None:
    conditions = []
    if order_number:
        conditions.append(Order.cj_order_number == order_number)
    if cj_order_id:
        conditions.append(Order.cj_order_id == cj_order_id)
    if not conditions:
        return None
    return session.scalars(select(Order).where(or_(*conditions)).limit(1)).first()


def apply_cj_event(session: Session, *, event_id: int, runtime: Runtime | None = None) -> str:
    """Apply one stored CJ webhook delivery, under the lock of the order it names."""
    event = session.get(WebhookEvent, event_id)
    if event is None or event.status != "queued":
        return "already_processed"
    message = json_body.loads(event.raw_body)
    params = message.get("params") or {}
    kind = str(message.get("type") or "").upper()
    if kind == "ORDER":
        order_number = _str(params.get("orderNumber") or params.get("orderNum"))
        cj_id, _code = cj_ids(params)
        order = find_order(session, order_number=order_number, cj_order_id=cj_id)
        with order_lock_or_retry(session.get_bind(), order.id if order else None):
            outcome = apply_order_status(session, params=params,
                                         message_type=str(message.get("messageType") or ""))
    elif kind == "LOGISTIC":
        order = find_order(session, order_number=None, cj_order_id=_str(params.get("orderId")))
        with order_lock_or_retry(session.get_bind(), order.id if order else None):
            outcome = apply_logistic(session, params=params)
    else:
        outcome = "ignored"
    event.status = "processed"
    event.note = outcome
    event.processed_at = utcnow()
    log.info("cj_event_processed", extra={"fields": {"event_id": event.id, "type": kind, "outcome": outcome}})
    return outcome


def apply_order_status(session: Session, *, params: dict, message_type: str = "UPDATE") -> str:
    """An ORDER message or a getOrderDetail answer: status, CJ id and tracking."""
    order_number = _str(params.get("orderNumber") or params.get("orderNum"))
    cj_id, code = cj_ids(params)
    order = find_order(session, order_number=order_number, cj_order_id=cj_id)
    if order is None:
        return "no_matching_order"
    order.last_cj_update_at = utcnow()
    if code and not order.cj_order_code:
        order.cj_order_code = code
    if cj_id and order.cj_order_id != cj_id and (message_type.upper() == "ORDER_CONNNECTED" or not order.cj_order_id):
        note(session, order, "cj_order_connected", f"CJ order id is now {cj_id}")
        order.cj_order_id = cj_id
        order.cj_create_state = "created"
        if order.state == "received" or order.state == "ready":
            transition(session, order, "submitted", reason="cj_order_connected")
        enqueue(session, kind="forward_order", payload={"order_id": order.id},
                dedupe_key=f"forward_order:{order.id}")  # payment may have waited for the id
    status = _str(params.get("orderStatus"))
    if status and status != order.cj_status:
        order.cj_status = status
        note(session, order, "cj_status", status)
    if status in CJ_PAID_STATUSES and order.cj_pay_state != "paid":
        order.cj_pay_state = "paid"
        order.cj_paid_at = order.cj_paid_at or utcnow()
        if order.state in ("submitted", "held"):
            advance(session, order, "paid", reason="cj_reports_paid")
    if status == "CANCELLED" and order.state not in ("cancelled",):
        if order.cancelled:
            transition(session, order, "cancelled", reason="cj_cancelled", detail="cancelled at CJ and in the store")
        else:
            hold(session, order, "cj_cancelled", "CJ cancelled its order while the store order is still open. "
                 "Resolution: check the order on My CJ; then cancel or refund it in the store, POST "
                 "/admin/orders/<id>/retry to send a new CJ order, or /acknowledge to close it here.")
    track = _str(params.get("trackNumber") or params.get("trackingNumber"))
    if track:
        line_ids = [str(i["storeLineItemId"]) for i in params.get("orderItems") or params.get("productList") or []
                    if isinstance(i, dict) and i.get("storeLineItemId")]
        record_shipment(session, order, tracking_number=track, carrier=_str(params.get("logisticName")),
                        tracking_url=_str(params.get("trackingUrl")), store_line_ids=line_ids or None)
    if status == "DELIVERED":
        _mark_delivered(session, order)
    return "applied"


def apply_logistic(session: Session, *, params: dict) -> str:
    cj_id = _str(params.get("orderId"))
    order = find_order(session, order_number=None, cj_order_id=cj_id)
    if order is None:
        return "no_matching_order"
    order.last_cj_update_at = utcnow()
    track = _str(params.get("trackingNumber"))
    if track:
        record_shipment(session, order, tracking_number=track, carrier=_str(params.get("logisticName")),
                        tracking_url=_str(params.get("trackingUrl")), store_line_ids=None)
    try:
        tracking_status = int(params.get("trackingStatus"))
    except (TypeError, ValueError):
        tracking_status = None
    if tracking_status == DELIVERED_TRACKING_STATUS:
        _mark_delivered(session, order)
    return "applied"


def _mark_delivered(session: Session, order: Order) -> None:
    if order.state == "fulfilled":
        transition(session, order, "delivered", reason="carrier_delivered")
    else:
        note(session, order, "carrier_delivered", "the carrier reports the parcel delivered")


def sync_cj_order(session: Session, *, order_id: int, runtime: Runtime) -> str:
    """Polling fallback: read getOrderDetail and apply it like an ORDER message."""
    order = session.get(Order, order_id)
    if order is None or order.state not in SYNCABLE_STATES + ("held",):
        return "nothing_to_do"
    if runtime.settings.cj_dry_run:
        return "dry_run"
    key = order.cj_order_id or order.cj_order_number
    session.commit()
    try:
        detail = runtime.cj.get_order_detail(key)
    except (CjApiError, CjTransportError) as exc:
        retry_if_transient(exc)
        raise RetryLater(str(exc)) from None  # a refused lookup is retried too: the poll is only a safety net
    if detail is None:
        order.last_cj_update_at = utcnow()
        note(session, order, "cj_lookup_empty", f"getOrderDetail found no CJ order {key}")
        return "not_found"
    detail = dict(detail)
    detail.setdefault("orderNumber", order.cj_order_number)
    return apply_order_status(session, params=detail)


def enqueue_stale_syncs(session: Session, *, runtime: Runtime, limit: int = 200) -> int:
    """Periodic: queue a CJ lookup for every order at CJ that no update has reached for a while."""
    cutoff = utcnow() - timedelta(minutes=runtime.settings.cj_sync_stale_minutes)
    orders = session.scalars(select(Order).where(
        Order.state.in_(SYNCABLE_STATES), Order.cj_create_state == "created",
        or_(Order.last_cj_update_at.is_(None), Order.last_cj_update_at < cutoff)).order_by(
        Order.last_cj_update_at).limit(limit)).all()
    for order in orders:
        enqueue(session, kind="sync_cj_order", payload={"order_id": order.id},
                dedupe_key=f"sync_cj_order:{order.id}")
    return len(orders)
