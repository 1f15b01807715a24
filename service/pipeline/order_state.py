"""Order lifecycle: every state change is recorded with its time, reason and detail."""
from __future__ import annotations

from sqlalchemy.orm import Session

from service.storage.models import Order, OrderTransition
from service.timeutil import utcnow

STATES = ("received", "ready", "submitted", "paid", "shipped", "fulfilled", "delivered",
          "held", "cancelled", "skipped", "failed")
CJ_PAID_STATUSES = ("UNSHIPPED", "SHIPPED", "DELIVERED")
# Holds that ask the merchant to decide something no retry can decide. Automatic progress (a payment,
# tracking, a write-back) is recorded beside such a hold and never clears it; only the merchant does
# (POST /admin/orders/<id>/acknowledge, or a store change that removes the cause).
HUMAN_HOLDS = ("cancel_needs_attention", "changed_after_submission", "refunded_after_submission",
               "postage_over_cap", "cj_cancelled", "edit_needs_attention")


def transition(session: Session, order: Order, to_state: str, *, reason: str | None = None,
               detail: str | None = None) -> None:
    """Move an order to to_state (a repeat of the same state and reason is not recorded twice)."""
    assert to_state in STATES, to_state
    if order.state == to_state and order.hold_reason == (reason if to_state == "held" else None) \
            and (to_state != "held" or order.hold_detail == detail):
        return
    session.add(OrderTransition(order_id=order.id, from_state=order.state, to_state=to_state,
                                reason=reason, detail=detail, at=utcnow()))
    order.state = to_state
    order.hold_reason = reason if to_state == "held" else None
    order.hold_detail = detail if to_state == "held" else None
    order.updated_at = utcnow()


def hold(session: Session, order: Order, reason: str, detail: str) -> None:
    """Put an order on hold; detail says what is wrong and ends with 'Resolution: …'.

    A hold for a human is never replaced by an automatic one: the human's question comes first.
    """
    if held_for_human(order) and reason not in HUMAN_HOLDS:
        note(session, order, reason, detail)
        return
    transition(session, order, "held", reason=reason, detail=detail)


def note(session: Session, order: Order, reason: str, detail: str | None = None) -> None:
    """Record an event in the order's history without changing its state."""
    session.add(OrderTransition(order_id=order.id, from_state=order.state, to_state=order.state,
                                reason=reason, detail=detail, at=utcnow()))


def held_for_human(order: Order) -> bool:
    return order.state == "held" and order.hold_reason in HUMAN_HOLDS


def acknowledged(order: Order, reason: str) -> bool:
    """True when the merchant has already answered a hold for this reason."""
    return reason in (order.acknowledged_holds or [])


def advance(session: Session, order: Order, to_state: str, *, reason: str, detail: str | None = None) -> bool:
    """Automatic progress: a transition, unless a hold for a human stands; then a note, and the hold stays."""
    if held_for_human(order):
        note(session, order, reason, f"now {to_state}" + (f": {detail}" if detail else "")
             + f"; still held for {order.hold_reason}")
        return False
    transition(session, order, to_state, reason=reason, detail=detail)
    return True


def factual_state(order: Order) -> str:
    """The state that what we know of the order implies, ignoring any hold (used when a hold is cleared)."""
    if order.cancelled and (order.cj_create_state is None or order.cj_status == "CANCELLED"):
        return "cancelled"
    live = [s for s in order.shipments if s.status in ("pending", "written")]
    if live and all(s.status == "written" for s in live):
        return "fulfilled"
    if live:
        return "shipped"
    if order.cj_pay_state == "paid" or order.cj_status in CJ_PAID_STATUSES:
        return "paid"
    if order.cj_create_state == "created":
        return "submitted"
    return "ready"
