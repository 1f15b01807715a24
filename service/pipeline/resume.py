"""Resuming held orders: after a fix (mapping, rule, balance), on an admin retry, or a human's acknowledgement."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.jobs.queue import enqueue
from service.storage.models import Order
from service.pipeline.order_state import HUMAN_HOLDS, factual_state, hold, note, transition

# Which job resumes an order held for each reason (forward_order for every other reason).
_WRITE_BACK_REASONS = ("writeback_rejected", "writeback_failed", "store_auth_failed", "store_inactive",
                       "store_credentials_missing", "fulfillment_on_hold", "fulfillment_not_assigned",
                       "carrier_unmapped")
_CANCEL_REASONS = ("cancel_needs_attention",)
# What a job that gave up leaves the order held for, by job kind (None: a note only, the job is a safety net).
_DEAD_JOB_REASONS = {"write_back": "writeback_failed", "cancel_cj_order": "cancel_needs_attention",
                     "sync_cj_order": None}


class NotRetryable(ValueError):
    """The order is in a state that a retry cannot move."""


def retry_order(session: Session, *, order: Order, requested_by: str = "admin") -> str:
    """Queue the job that resumes this order; returns the job kind."""
    if order.state == "held" and order.hold_reason in _WRITE_BACK_REASONS:
        kind = "write_back"
    elif order.state == "held" and order.hold_reason in _CANCEL_REASONS:
        kind = "cancel_cj_order"
    elif order.state in ("held", "ready"):
        kind = "forward_order"  # also pays an unpaid CJ order, and re-sends one that CJ cancelled
    elif order.state == "shipped":
        kind = "write_back"
    elif order.state == "submitted" and order.cj_pay_state != "paid":
        kind = "forward_order"  # the payment, if CJ_AUTO_PAY allows it
    elif order.state in ("submitted", "paid"):
        kind = "sync_cj_order"
    else:
        raise NotRetryable(f"order {order.id} is {order.state}; only held, ready, submitted, paid or shipped "
                           "orders can be retried")
    note(session, order, "retry_requested", f"{requested_by} asked for {kind}")
    enqueue(session, kind=kind, payload={"order_id": order.id}, dedupe_key=f"{kind}:{order.id}")
    return kind


def acknowledge_hold(session: Session, *, order: Order, comment: str | None = None,
                     requested_by: str = "admin") -> str:
    """The merchant has dealt with a hold that asked for a human: clear it for good and carry on.

    cancel_needs_attention (the merchant settled the paid CJ order on My CJ) and cj_cancelled (no new CJ
    order wanted) close the order; every other such hold returns the order to the state its facts imply,
    and the step that follows is queued. The same reason never holds this order again.
    """
    if order.state != "held" or order.hold_reason not in HUMAN_HOLDS:
        raise NotRetryable(f"order {order.id} is not held for a human decision (state {order.state}, hold "
                           f"{order.hold_reason}); acknowledge answers {', '.join(HUMAN_HOLDS)}")
    reason = order.hold_reason
    order.acknowledged_holds = sorted(set(order.acknowledged_holds or []) | {reason})
    detail = f"{requested_by} acknowledged {reason}" + (f": {comment}" if comment else "")
    if reason in ("cancel_needs_attention", "cj_cancelled"):
        transition(session, order, "cancelled", reason="merchant_resolved", detail=detail)
        return "cancelled"
    state = factual_state(order)
    transition(session, order, state, reason="hold_acknowledged", detail=detail)
    follow_up = {"ready": "forward_order", "submitted": "forward_order", "shipped": "write_back"}.get(state)
    if follow_up:
        enqueue(session, kind=follow_up, payload={"order_id": order.id}, dedupe_key=f"{follow_up}:{order.id}")
    return state


def hold_after_dead_job(session: Session, *, order_id: int, kind: str, error: str) -> None:
    """A job for this order used up its attempts: hold the order with the reason instead of leaving it stuck."""
    order = session.get(Order, order_id)
    if order is None or order.state in ("cancelled", "delivered", "skipped"):
        return
    if kind == "forward_order":
        reason = "payment_failed" if order.cj_create_state == "created" else "forward_failed"
    else:
        reason = _DEAD_JOB_REASONS.get(kind, f"{kind}_failed")
    summary = f"the {kind} job gave up after its last attempt: {error[:500]}"
    if reason is None:
        note(session, order, f"{kind}_gave_up", summary)
        return
    hold(session, order, reason, f"{summary}. Resolution: fix the cause, then POST /admin/orders/<id>/retry.")


def resume_held(session: Session, *, reason: str, store_id: int | None = None, limit: int = 500) -> int:
    """Queue forward_order for every order held for `reason` (optionally in one store).

    Orders still 'ready' are included: one may be in a forward_order that read its inputs before the
    fix, and is about to hold for that very reason.
    """
    stmt = select(Order).where(or_((Order.state == "held") & (Order.hold_reason == reason),
                                   Order.state == "ready"))
    if store_id is not None:
        stmt = stmt.where(Order.store_id == store_id)
    orders = session.scalars(stmt.order_by(Order.id).limit(limit)).all()
    for order in orders:
        enqueue(session, kind="forward_order", payload={"order_id": order.id},
                dedupe_key=f"forward_order:{order.id}")
    return len(orders)
