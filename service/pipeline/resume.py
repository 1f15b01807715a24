"""Resuming held orders: after a fix (mapping, rule, balance) or on an admin retry."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.jobs.queue import enqueue
from service.storage.models import Order
from service.pipeline.order_state import note

# Which job resumes an order held for each reason.
_WRITE_BACK_REASONS = ("writeback_rejected", "store_auth_failed", "store_inactive", "store_credentials_missing")
_CANCEL_REASONS = ("cancel_needs_attention",)


class NotRetryable(ValueError):
    """The order is in a state that a retry cannot move."""


def retry_order(session: Session, *, order: Order, requested_by: str = "admin") -> str:
    """Queue the job that resumes this order; returns the job kind."""
    if order.state == "held" and order.hold_reason in _WRITE_BACK_REASONS:
        kind = "write_back"
    elif order.state == "held" and order.hold_reason in _CANCEL_REASONS:
        kind = "cancel_cj_order"
    elif order.state in ("held", "ready"):
        kind = "forward_order"
    elif order.state == "shipped":
        kind = "write_back"
    elif order.state in ("submitted", "paid"):
        kind = "sync_cj_order"
    else:
        raise NotRetryable(f"order {order.id} is {order.state}; only held, ready, submitted, paid or shipped "
                           "orders can be retried")
    note(session, order, "retry_requested", f"{requested_by} asked for {kind}")
    enqueue(session, kind=kind, payload={"order_id": order.id}, dedupe_key=f"{kind}:{order.id}")
    return kind


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
