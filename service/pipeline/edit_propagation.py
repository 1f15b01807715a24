"""A store edit to an order already at CJ (its address or its lines): CJ's order is re-created while unpaid.

CJ's API cannot change an order. While CJ's order is unpaid it is deleted, and the order goes to CJ again as
a new attempt (its own deterministic orderNumber, …-R<n>) with every exactly-once guarantee of the first:
the attempt is recorded before the create, which looks CJ up before it re-creates. A paid CJ order is held
for the merchant with what changed; once CJ has shipped, the change is only noted.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from service.cj.errors import CjApiError, CjTransportError, retry_if_transient
from service.jobs.outcomes import RetryLater
from service.jobs.queue import enqueue
from service.storage.models import Order
from service.pipeline.call_log import record_call
from service.pipeline.cj_attempts import start_new_attempt
from service.pipeline.cj_updates import read_cj_order_now
from service.pipeline.order_state import CJ_PAID_STATUSES, acknowledged, hold, note, transition
from service.runtime import Runtime

# What CJ ships by. The email rides in the canonical address too, but CJ does not ship by it.
ADDRESS_FIELDS = ("name", "first_name", "last_name", "company", "address1", "address2", "city", "province",
                  "province_code", "zip", "country_code", "phone")
CJ_SHIPPED_STATUSES = ("SHIPPED", "DELIVERED")
# The automatic hold while CJ's unpaid order is being replaced: no payment goes around it.
RESUBMITTING = "edit_resubmitting"
NEEDS_ATTENTION = "edit_needs_attention"
# CJ answers "not found" for lagging reads too: an order CJ created is looked up this often before a human.
NOT_FOUND_LOOKUPS = 3


def cj_relevant_edit(order: Order, previous: dict | None) -> dict | None:
    """What changed in what CJ ships by, or None: {"address": [fields], "lines": {line id: [sent, now]}}."""
    if previous is None:
        return None
    change: dict = {}
    before = previous.get("shipping_address") or {}
    after = (order.canonical or {}).get("shipping_address") or {}
    fields = [f for f in ADDRESS_FIELDS if (before.get(f) or None) != (after.get(f) or None)]
    if fields:
        change["address"] = fields
    sent = _units(order.cj_lines) if order.cj_lines is not None else _units(_shippable(previous))
    now = _units(_shippable(order.canonical or {}))
    lines = {line_id: [sent.get(line_id, 0), now.get(line_id, 0)] for line_id in sorted(set(sent) | set(now))
             if sent.get(line_id, 0) != now.get(line_id, 0)}
    if lines:
        change["lines"] = lines
    return change or None


def describe(change: dict) -> str:
    parts = []
    if change.get("address"):
        parts.append(f"the shipping address ({', '.join(change['address'])})")
    if change.get("lines"):
        parts.append("the lines (" + "; ".join(f"line {line_id}: {sent} sent to CJ, {now} now"
                                               for line_id, (sent, now) in change["lines"].items()) + ")")
    return " and ".join(parts)


def store_edited(session: Session, *, order: Order, change: dict) -> str:
    """Apply a store edit of an order that is (or may be) at CJ; the caller holds the order's lock."""
    what = describe(change)
    cj = order.cj_order_id or order.cj_order_number
    if order.cj_status in CJ_SHIPPED_STATUSES or order.state in ("shipped", "fulfilled"):
        added = {k: v for k, v in (change.get("lines") or {}).items() if v[1] > v[0]}
        note(session, order, "changed_after_shipping",
             f"the store changed {what} after CJ order {cj} shipped; nothing changes at CJ"
             + ("; the added items are not shipped by CJ: send them another way" if added else ""))
        return "updated"
    if order.cj_pay_state == "paid" or order.cj_status in CJ_PAID_STATUSES:
        return _hold_paid(session, order, what)
    # A hold for a human stays (hold() keeps it); the payment waits for that hold or this job, whichever.
    hold(session, order, RESUBMITTING,
         f"the store changed {what}; CJ order {cj} is not paid, so it is deleted and the edited order sent to CJ "
         "again as a new CJ order. Resolution: none needed, this happens by itself.")
    queue_resubmission(session, order)
    return "resubmitting"


def queue_resubmission(session: Session, order: Order) -> None:
    # The job names the CJ attempt it replaces: run late or twice, it never deletes a newer CJ order.
    attempt = order.cj_attempt or 0
    enqueue(session, kind="resubmit_edited_order", payload={"order_id": order.id, "cj_attempt": attempt},
            dedupe_key=f"resubmit_edited_order:{order.id}:{attempt}")


def _hold_paid(session: Session, order: Order, what: str) -> str:
    cj = order.cj_order_id or order.cj_order_number
    if acknowledged(order, NEEDS_ATTENTION):
        note(session, order, NEEDS_ATTENTION, f"the store changed {what}; CJ order {cj} is paid and ships the "
             "original (the merchant already answered an edit hold)")
        return "updated"
    hold(session, order, NEEDS_ATTENTION,
         f"the store changed {what} after CJ order {cj} was paid; CJ's API cannot change a paid order, so CJ ships "
         "the original. Resolution: ask CJ to change it (My CJ → the order → contact support) or send the "
         "difference another way, then POST /admin/orders/<id>/acknowledge.")
    return "held"


def resubmit_edited_order(session: Session, *, order_id: int, cj_attempt: int, runtime: Runtime,
                          attempt: int = 1) -> str:
    """Delete CJ's unpaid order (attempt cj_attempt) and send the edited store order again, as a new attempt."""
    order = session.get(Order, order_id)
    if order is None or order.cancelled:
        return "nothing_to_do"  # a cancel deletes the CJ order itself
    if (order.cj_attempt or 0) != cj_attempt:
        return "nothing_to_do:already_resubmitted"
    if order.cj_create_state is None:
        return _send_again(session, order, "nothing had reached CJ yet")
    if runtime.settings.cj_dry_run:
        record_call(session, order_id=order.id, service="cj", operation="deleteOrder",
                    request={"orderId": order.cj_order_id or order.cj_order_number}, outcome="dry_run")
        start_new_attempt(session, order, why="the store edited the order (dry-run: deleteOrder recorded)")
        return _send_again(session, order, "dry-run")
    session.commit()  # no transaction stays open across CJ's calls
    try:
        if read_cj_order_now(runtime, order) is None:
            return _not_found(session, order, attempt=attempt)
        if order.cj_status == "CANCELLED":
            start_new_attempt(session, order, why="the store edited the order; its CJ order was already cancelled")
            return _send_again(session, order, "the earlier CJ order was cancelled")
        if order.cj_status in CJ_PAID_STATUSES:
            order.cj_pay_state = "paid"
            return _hold_paid(session, order, "the order (see its history)")
        session.commit()
        runtime.cj.delete_order(order.cj_order_id)
    except (CjApiError, CjTransportError) as exc:
        retry_if_transient(exc)
        hold(session, order, NEEDS_ATTENTION,
             f"the store edited the order, and CJ refused to delete its unpaid order {order.cj_order_id} to send "
             f"the edited one: code {exc.code}: {exc.cj_message}. Resolution: delete it on My CJ, then POST "
             "/admin/orders/<id>/retry (the edited order then goes to CJ as a new order), or /acknowledge to let "
             "CJ ship the original.")
        return "held"
    record_call(session, order_id=order.id, service="cj", operation="deleteOrder",
                request={"orderId": order.cj_order_id}, outcome="ok")
    order.cj_status = "CANCELLED"
    start_new_attempt(session, order, why="the store edited the order before CJ's order was paid: that CJ order "
                      "was deleted")
    return _send_again(session, order, "the unpaid CJ order was deleted")


def _send_again(session: Session, order: Order, why: str) -> str:
    transition(session, order, "ready", reason="store_edited", detail=f"the edited order goes to CJ ({why})")
    enqueue(session, kind="forward_order", payload={"order_id": order.id}, dedupe_key=f"forward_order:{order.id}")
    return "resubmitted"


def _not_found(session: Session, order: Order, *, attempt: int) -> str:
    """CJ's lookup found nothing: "never created" only while our create was still pending."""
    if order.cj_create_state == "pending":
        order.cj_create_state = None  # the unknown create never reached CJ: the same number is still free
        return _send_again(session, order, "the earlier create never reached CJ")
    cj = order.cj_order_id or order.cj_order_number
    if attempt < NOT_FOUND_LOOKUPS:
        raise RetryLater(f"CJ's getOrderDetail found no order {cj}, which CJ created for us; looking again")
    hold(session, order, NEEDS_ATTENTION,
         f"the store edited the order, but CJ's getOrderDetail answers 'not found' for CJ order {cj}, which CJ "
         f"created for us ({NOT_FOUND_LOOKUPS} lookups). Resolution: look the order up on My CJ; if it exists "
         "and is unpaid, delete it there and POST /admin/orders/<id>/retry (the edited order then goes to CJ as a "
         "new order); if it is paid, POST /admin/orders/<id>/acknowledge.")
    return "held"


def _shippable(canonical: dict) -> list[dict]:
    return [line for line in canonical.get("lines") or [] if line.get("requires_shipping", True)]


def _units(lines) -> dict[str, int]:
    units: dict[str, int] = {}
    for line in lines or []:
        quantity = int(line.get("quantity") or 0)
        if quantity > 0:
            units[str(line["line_id"])] = units.get(str(line["line_id"]), 0) + quantity
    return units
