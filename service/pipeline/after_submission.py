"""A store change to an order that is (or may be) at CJ already: cancel, re-open, refund, edit."""
from __future__ import annotations

from sqlalchemy.orm import Session

from service.jobs.queue import enqueue
from service.storage.models import Order
from service.pipeline import edit_propagation
from service.pipeline.cj_attempts import start_new_attempt
from service.pipeline.order_state import (CJ_PAID_STATUSES, acknowledged, factual_state, hold, note,
                                          transition)


def apply_store_change(session: Session, *, order: Order, previous: dict | None, was_cancelled: bool) -> str:
    """Decide what a new store snapshot of an order already sent to CJ means; returns what happened."""
    if order.cancelled and not was_cancelled:
        note(session, order, "store_cancelled", "the store cancelled the order after it was sent to CJ")
        _queue(session, order, "cancel_cj_order")
        return "cancel_requested"
    if was_cancelled and not order.cancelled:
        return _reopened(session, order)
    if order.cancelled:
        return "updated"
    canonical = order.canonical
    if canonical.get("refunded") and not (previous or {}).get("refunded"):
        return _refunded(session, order)
    change = edit_propagation.cj_relevant_edit(order, previous)
    if change:
        return edit_propagation.store_edited(session, order=order, change=change)
    return "updated"


def _reopened(session: Session, order: Order) -> str:
    """The store re-opened (restored, un-cancelled) an order it had cancelled after it reached CJ."""
    if order.cj_status == "CANCELLED":
        # That CJ order is gone for good: the order goes to CJ again as a new attempt, if it is paid.
        start_new_attempt(session, order, why="the store re-opened the order after its CJ order was cancelled")
        if order.test or not order.canonical.get("paid"):
            transition(session, order, "skipped", reason="reopened_unpaid",
                       detail="re-opened in the store but not paid; it goes to CJ once the store reports it paid")
            return "skipped"
        transition(session, order, "ready", reason="store_reopened",
                   detail="re-opened in the store after its CJ order was cancelled: sent to CJ again")
        _queue(session, order, "forward_order")
        return "ready"
    # The CJ order still stands (the cancel had not reached it, or it was paid): carry on with it.
    state = factual_state(order)
    transition(session, order, state, reason="store_reopened",
               detail="re-opened in the store; the CJ order still stands, so nothing is cancelled")
    if state in ("ready", "submitted"):
        _queue(session, order, "forward_order")  # the create's lookup, or the payment if CJ_AUTO_PAY allows
    elif state == "shipped":
        _queue(session, order, "write_back")
    return state


def _refunded(session: Session, order: Order) -> str:
    """A full refund without a cancel: the merchant must say whether CJ should still ship."""
    if acknowledged(order, "refunded_after_submission"):
        note(session, order, "refunded_after_submission", "refunded in the store; the merchant already said to "
             "ship it anyway")
        return "updated"
    paid = order.cj_pay_state == "paid" or order.cj_status in CJ_PAID_STATUSES
    cj = order.cj_order_id or order.cj_order_number
    if paid:
        detail = (f"the store refunded the whole order, but CJ order {cj} is already paid and will ship. "
                  "Resolution: open a dispute on My CJ (or cancel the order in the store, which tells you the "
                  "same), then POST /admin/orders/<id>/acknowledge.")
    else:
        detail = (f"the store refunded the whole order without cancelling it; CJ order {cj} is not paid and is "
                  "not paid while this hold stands. Resolution: cancel the order in the store to delete the CJ "
                  "order, or POST /admin/orders/<id>/acknowledge to pay and ship it anyway.")
    hold(session, order, "refunded_after_submission", detail)
    return "held"


def added_units(order: Order) -> dict[str, int]:
    """Shippable units the store order has now beyond what was sent to CJ, by line id."""
    if order.cj_lines is None:
        return {}  # sent before the lines were recorded: nothing to compare with
    sent: dict[str, int] = {}
    for line in order.cj_lines:
        sent[line["line_id"]] = sent.get(line["line_id"], 0) + int(line["quantity"])
    grown = {}
    for line in (order.canonical or {}).get("lines", []):
        if not line.get("requires_shipping", True):
            continue
        extra = int(line.get("quantity") or 0) - sent.get(line["line_id"], 0)
        if extra > 0:
            grown[line["line_id"]] = grown.get(line["line_id"], 0) + extra
    return grown


def describe_units(units: dict[str, int]) -> str:
    return ", ".join(f"{qty} × line {line_id}" for line_id, qty in sorted(units.items()))


def _queue(session: Session, order: Order, kind: str) -> None:
    enqueue(session, kind=kind, payload={"order_id": order.id}, dedupe_key=f"{kind}:{order.id}")
