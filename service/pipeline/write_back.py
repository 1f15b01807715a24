"""write_back: deliver each pending shipment's tracking to the store that sold the order.

Only what was sent to CJ is written back: lines added in the store after the CJ order was placed are not
marked shipped with CJ's tracking.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from adapters import get_adapter
from adapters.base import ShipmentToWrite
from service.jobs.outcomes import NeedsHuman
from service.storage.models import Order, Shipment, Store
from service.pipeline.call_log import record_call
from service.pipeline.order_state import advance, hold, note
from service.pipeline.store_context import store_context
from service.runtime import Runtime
from service.timeutil import utcnow


def sent_lines(order: Order) -> list[dict]:
    """The order's lines as sent to CJ: only those lines, with the quantities CJ was asked to ship.

    Orders sent before the lines were recorded fall back to the store's current shippable lines.
    """
    lines = [l for l in (order.canonical or {}).get("lines", [])
             if l.get("requires_shipping", True) and l.get("quantity", 0) > 0]
    if order.cj_lines is None:
        return lines
    sent: dict[str, int] = {}
    for line in order.cj_lines:
        sent[line["line_id"]] = sent.get(line["line_id"], 0) + int(line["quantity"])
    out = []
    for line in lines:
        if line["line_id"] in sent:
            out.append(dict(line, quantity=min(int(line["quantity"]), sent.pop(line["line_id"]))))
    # A line the store has since removed still shipped from CJ: it is written back as it was sent.
    for line in order.cj_lines:
        if line["line_id"] in sent:
            out.append({"line_id": line["line_id"], "line_ref": line.get("line_ref"),
                        "quantity": sent.pop(line["line_id"]), "requires_shipping": True})
    return out


def _is_final(order: Order, shipment: Shipment, lines: list[dict]) -> bool:
    """True when, with this shipment, every line sent to CJ has a tracking number."""
    if not shipment.store_line_ids:
        return True
    shipped = set(shipment.store_line_ids)
    for other in order.shipments:
        if other.status == "written":
            if not other.store_line_ids:
                return True
            shipped |= set(other.store_line_ids)
    return {l["line_id"] for l in lines} <= shipped


def write_back_order(session: Session, *, order_id: int, runtime: Runtime) -> str:
    order = session.get(Order, order_id)
    if order is None:
        return "missing"
    pending = [s for s in order.shipments if s.status == "pending"]
    if not pending:
        return "nothing_pending"
    if order.cancelled:
        # CJ shipped an order the store cancelled (the hold that says so stays): no fulfillment on a
        # cancelled store order; the numbers are kept on the order for the merchant.
        note(session, order, "tracking_not_written", "the store order is cancelled; tracking "
             f"{', '.join(s.tracking_number for s in pending)} is kept here, not written to the store")
        return "store_order_cancelled"
    store = session.get(Store, order.store_id)
    if not store.active:
        hold(session, order, "store_inactive", f"store {store.domain} is uninstalled or inactive, tracking "
             f"{pending[0].tracking_number} was not written. Resolution: reactivate the store "
             "(PATCH /admin/stores/<id>), then POST /admin/orders/<id>/retry.")
        return "held"
    adapter = get_adapter(store.platform)
    context = store_context(store, runtime)
    lines = sent_lines(order)
    snapshot = dict(order.canonical, lines=lines, cj_order_id=order.cj_order_id)
    for shipment in pending:
        joins = session.get(Shipment, shipment.adds_to_shipment_id) if shipment.adds_to_shipment_id else None
        if joins is not None and joins.status != "written":
            continue  # its group's first number is written first (it comes earlier in this loop or a retry)
        group = [s for s in order.shipments if joins is not None and s.status in ("pending", "written")
                 and (s.id == joins.id or s.adds_to_shipment_id == joins.id)]
        to_write = ShipmentToWrite(tracking_number=shipment.tracking_number, carrier=shipment.carrier,
                                   tracking_url=shipment.tracking_url, store_line_ids=shipment.store_line_ids,
                                   add_to_fulfillment_id=joins.store_fulfillment_id if joins else None,
                                   group_tracking=[(s.tracking_number, s.tracking_url) for s in group],
                                   final=_is_final(order, shipment, lines))
        session.commit()  # no transaction stays open across the store call
        try:
            result = adapter.write_back(http=runtime.http, store=context, order=snapshot, shipment=to_write)
        except NeedsHuman as exc:
            shipment.last_error = str(exc)
            record_call(session, order_id=order.id, service=store.platform, operation="write_back",
                        request={"tracking_number": shipment.tracking_number}, response={"error": str(exc)},
                        outcome="error")
            hold(session, order, exc.reason, str(exc))
            return "held"
        if result.adapter_state is not None:
            store.adapter_state = result.adapter_state
            context = store_context(store, runtime)
        if result.details.get("note"):
            note(session, order, f"write_back_{result.outcome}", result.details["note"])
        shipment.status = "written"
        shipment.store_fulfillment_id = result.fulfillment_id
        shipment.written_at = utcnow()
        shipment.last_error = None
        record_call(session, order_id=order.id, service=store.platform, operation="write_back",
                    request={"tracking_number": shipment.tracking_number, "carrier": shipment.carrier,
                             "tracking_url": shipment.tracking_url},
                    response={"outcome": result.outcome, "fulfillment_id": result.fulfillment_id,
                              **result.details}, outcome="ok")
        session.commit()
    if any(s.status == "pending" for s in order.shipments):
        return "partly_written"
    if order.state in ("shipped", "held", "paid", "submitted"):
        advance(session, order, "fulfilled", reason="tracking_written",
                detail=", ".join(s.tracking_number for s in pending))
    return "fulfilled"
