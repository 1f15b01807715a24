"""Order lifecycle: every state change is recorded with its time, reason and detail."""
from __future__ import annotations

from sqlalchemy.orm import Session

from service.storage.models import Order, OrderTransition
from service.timeutil import utcnow

STATES = ("received", "ready", "submitted", "paid", "shipped", "fulfilled", "delivered",
          "held", "cancelled", "skipped", "failed")
CJ_PAID_STATUSES = ("UNSHIPPED", "SHIPPED", "DELIVERED")


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
    """Put an order on hold; detail says what is wrong and ends with 'Resolution: …'."""
    transition(session, order, "held", reason=reason, detail=detail)


def note(session: Session, order: Order, reason: str, detail: str | None = None) -> None:
    """Record an event in the order's history without changing its state."""
    session.add(OrderTransition(order_id=order.id, from_state=order.state, to_state=order.state,
                                reason=reason, detail=detail, at=utcnow()))
