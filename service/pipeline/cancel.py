"""cancel_cj_order: a store cancellation reaches CJ (delete before payment, a human after)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from service.cj.errors import CjApiError, CjTransportError, retry_if_transient
from service.jobs.outcomes import RetryLater
from service.storage.models import Order
from service.pipeline.call_log import record_call
from service.pipeline.cj_updates import read_cj_order_now
from service.pipeline.order_state import CJ_PAID_STATUSES, hold, transition
from service.runtime import Runtime

NEEDS_ATTENTION = ("CJ order {cj} is already paid, and CJ's API cannot cancel a paid order. Resolution: open a "
                   "dispute or cancel it on My CJ, then POST /admin/orders/<id>/retry to check CJ again (or "
                   "/acknowledge once it is settled).")
# CJ answers "not found" for lagging reads and for parameter errors too: an order we know CJ created is
# looked up this many times before a human is asked.
NOT_FOUND_LOOKUPS = 3


def cancel_cj_order(session: Session, *, order_id: int, runtime: Runtime, attempt: int = 1) -> str:
    order = session.get(Order, order_id)
    if order is None:
        return "nothing_to_do"
    if not order.cancelled:
        return "nothing_to_do:store_order_open"  # re-opened in the store before this job ran
    if order.state == "cancelled" and (order.cj_create_state is None or order.cj_status == "CANCELLED"):
        return "nothing_to_do"
    if order.cj_create_state is None:
        transition(session, order, "cancelled", reason="store_cancelled")
        return "cancelled"
    if runtime.settings.cj_dry_run:
        if order.cj_pay_state == "paid" or order.cj_status in CJ_PAID_STATUSES:
            hold(session, order, "cancel_needs_attention", NEEDS_ATTENTION.format(cj=order.cj_order_id))
            return "held"
        record_call(session, order_id=order.id, service="cj", operation="deleteOrder",
                    request={"orderId": order.cj_order_id or order.cj_order_number}, outcome="dry_run")
        transition(session, order, "cancelled", reason="store_cancelled", detail="dry-run: deleteOrder recorded")
        return "cancelled"
    session.commit()
    try:
        if read_cj_order_now(runtime, order) is None:
            return _not_found(session, order, attempt=attempt)
        if order.cj_status == "CANCELLED":
            transition(session, order, "cancelled", reason="store_cancelled", detail="CJ order is cancelled")
            return "cancelled"
        if order.cj_status in CJ_PAID_STATUSES:
            order.cj_pay_state = "paid"
            hold(session, order, "cancel_needs_attention", NEEDS_ATTENTION.format(cj=order.cj_order_id))
            return "held"
        session.commit()
        runtime.cj.delete_order(order.cj_order_id)
    except (CjApiError, CjTransportError) as exc:
        retry_if_transient(exc)
        hold(session, order, "cancel_needs_attention", f"CJ refused to delete order {order.cj_order_id}: code "
             f"{exc.code}: {exc.cj_message}. Resolution: cancel it on My CJ, then POST /admin/orders/<id>/retry.")
        return "held"
    record_call(session, order_id=order.id, service="cj", operation="deleteOrder",
                request={"orderId": order.cj_order_id}, outcome="ok")
    order.cj_status = "CANCELLED"
    transition(session, order, "cancelled", reason="store_cancelled", detail=f"CJ order {order.cj_order_id} deleted")
    return "cancelled"


def _not_found(session: Session, order: Order, *, attempt: int) -> str:
    """CJ's lookup found nothing. That proves "never created" only while our create was still pending."""
    if order.cj_create_state == "pending":
        order.cj_create_state = None  # the unknown create never reached CJ
        transition(session, order, "cancelled", reason="store_cancelled", detail="no CJ order exists")
        return "cancelled"
    cj = order.cj_order_id or order.cj_order_number
    if attempt < NOT_FOUND_LOOKUPS:
        raise RetryLater(f"CJ's getOrderDetail found no order {cj}, which CJ created for us; looking again")
    hold(session, order, "cancel_needs_attention",
         f"the store cancelled the order, but CJ's getOrderDetail answers 'not found' for CJ order {cj}, which CJ "
         f"created for us ({NOT_FOUND_LOOKUPS} lookups). Resolution: look the order up on My CJ; if it exists, "
         "cancel it there; then POST /admin/orders/<id>/acknowledge.")
    return "held"
