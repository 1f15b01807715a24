"""What CJ's API says about an order (order list, order detail) applied to our order.

Only authenticated reads of CJ's API reach this module. CJ's webhooks are hints that such a read is due
(service/pipeline/cj_hints.py): their signature is keyed by a number CJ's own messages carry in clear.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from service.cj.errors import CjApiError, CjTransportError, retry_if_transient
from service.cj.order_ids import cj_ids
from service.jobs.outcomes import RetryLater
from service.jobs.queue import enqueue
from service.storage.models import Order
from service.pipeline.order_state import CJ_PAID_STATUSES, advance, hold, note, transition
from service.pipeline.cj_order_parts import has_confirmed_parts
from service.pipeline.shipments import record_shipment
from service.pipeline.tracking_urls import safe_tracking_url
from service.runtime import Runtime
from service.timeutil import utcnow
from service.money import to_cents

log = logging.getLogger("cj_bridge.pipeline")
SYNCABLE_STATES = ("submitted", "paid", "shipped", "held")


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


def apply_cj_read(session: Session, *, order: Order, data: dict) -> str:
    """Apply what an authenticated read of CJ's API (order list row or order detail) says about this order."""
    order.last_cj_update_at = utcnow()
    order.cj_sync_requested_at = None
    cj_id, code = cj_ids(data)
    if code and order.cj_order_code != code:
        order.cj_order_code = code
    if cj_id and order.cj_order_id != cj_id:
        # Read by our orderNumber: the id CJ gives is the real one (ORDER_CONNNECTED replaces a provisional id).
        note(session, order, "cj_order_connected", f"CJ order id is now {cj_id}")
        order.cj_order_id = cj_id
        order.cj_create_state = "created"
        if order.state in ("received", "ready"):
            transition(session, order, "submitted", reason="cj_order_connected")
        enqueue(session, kind="forward_order", payload={"order_id": order.id},
                dedupe_key=f"forward_order:{order.id}")  # payment may have waited for the id
    for attr, key in (("cj_order_amount", "orderAmount"), ("cj_product_amount", "productAmount"),
                      ("cj_postage_amount", "postageAmount")):
        amount = to_cents(data.get(key))
        if amount is not None:
            setattr(order, attr, amount)
    status = _str(data.get("orderStatus"))
    if status and status != order.cj_status:
        order.cj_status = status
        note(session, order, "cj_status", status)
    if status in CJ_PAID_STATUSES and order.cj_pay_state != "paid":
        order.cj_pay_state = "paid"
        order.cj_paid_at = order.cj_paid_at or utcnow()
        if order.state in ("submitted", "held"):
            advance(session, order, "paid", reason="cj_reports_paid")
    if status == "CANCELLED" and order.state != "cancelled":
        if has_confirmed_parts(session, order.id):
            # CJ split the order: its parts ship, the original is only their container.
            note(session, order, "cj_split", "CJ split this order into parts, which ship on their own")
        elif order.cancelled:
            transition(session, order, "cancelled", reason="cj_cancelled", detail="cancelled at CJ and in the store")
        else:
            hold(session, order, "cj_cancelled", "CJ cancelled its order while the store order is still open. "
                 "Resolution: check the order on My CJ; then cancel or refund it in the store, POST "
                 "/admin/orders/<id>/retry to send a new CJ order, or /acknowledge to close it here.")
    track = _str(data.get("trackNumber") or data.get("trackingNumber"))
    if track and status != "CANCELLED":
        line_ids = [str(i["storeLineItemId"]) for i in data.get("productList") or []
                    if isinstance(i, dict) and i.get("storeLineItemId")]
        carrier = _str(data.get("logisticName"))
        record_shipment(session, order, tracking_number=track, carrier=carrier,
                        tracking_url=safe_tracking_url(_str(data.get("trackingUrl")), track),
                        store_line_ids=line_ids or None)
    if status == "DELIVERED":
        if order.state == "fulfilled":
            transition(session, order, "delivered", reason="carrier_delivered")
        else:
            note(session, order, "carrier_delivered", "CJ reports the parcel delivered")
    return "applied"


def read_cj_order_now(runtime: Runtime, order: Order) -> dict | None:
    """CJ's detail of the order's CJ order, its ids and status taken onto the order; None if CJ has none.

    For jobs about to act on the CJ order (delete it, say): the status may have moved on since our last
    update (a payment on My CJ), and CJ's answer decides. The caller holds no transaction open.
    """
    detail = runtime.cj.get_order_detail(order.cj_order_id or order.cj_order_number)
    if detail is None:
        return None
    cj_id, code = cj_ids(detail)
    order.cj_order_id = order.cj_order_id or cj_id
    order.cj_order_code = order.cj_order_code or code
    order.cj_status = detail.get("orderStatus") or order.cj_status
    return detail



def sync_cj_order(session: Session, *, order_id: int, runtime: Runtime) -> str:
    """Read one order with getOrderDetail and apply it (an admin retry; orders CJ has not given an id yet)."""
    order = session.get(Order, order_id)
    if order is None or order.state not in SYNCABLE_STATES:
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
        order.cj_sync_requested_at = None
        note(session, order, "cj_lookup_empty", f"getOrderDetail found no CJ order {key}")
        return "not_found"
    return apply_cj_read(session, order=order, data=detail)


def enqueue_stale_syncs(session: Session, *, runtime: Runtime, limit: int = 500) -> int:
    """Periodic: ask for a CJ read of every order at CJ that no update has reached for a while."""
    cutoff = utcnow() - timedelta(minutes=runtime.settings.cj_sync_stale_minutes)
    ids = session.scalars(select(Order.id).where(
        Order.state.in_(SYNCABLE_STATES), Order.cj_create_state == "created", Order.cj_sync_requested_at.is_(None),
        or_(Order.last_cj_update_at.is_(None), Order.last_cj_update_at < cutoff)).order_by(
        Order.last_cj_update_at).limit(limit)).all()
    request_reads(session, order_ids=list(ids))
    return len(ids)


def request_reads(session: Session, *, order_ids: list[int]) -> None:
    """Mark these orders for a read from CJ's API; one batched job reads every marked order."""
    if not order_ids:
        return
    session.execute(update(Order).where(Order.id.in_(order_ids), Order.cj_sync_requested_at.is_(None))
                    .values(cj_sync_requested_at=utcnow()))
    enqueue(session, kind=READ_JOB, payload={}, dedupe_key=READ_JOB)


READ_JOB = "read_cj_orders"
