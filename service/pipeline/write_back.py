"""write_back: deliver each pending shipment's tracking to the store that sold the order."""
from __future__ import annotations

from sqlalchemy.orm import Session

from adapters import get_adapter
from adapters.base import ShipmentToWrite
from service.jobs.outcomes import NeedsHuman
from service.storage.models import Order, Shipment, Store
from service.pipeline.call_log import record_call
from service.pipeline.order_state import hold, transition
from service.pipeline.store_context import store_context
from service.runtime import Runtime
from service.timeutil import utcnow


def _shippable_line_ids(order: Order) -> set[str]:
    return {l["line_id"] for l in (order.canonical or {}).get("lines", [])
            if l.get("requires_shipping", True) and l.get("quantity", 0) > 0}


def _is_final(order: Order, shipment: Shipment) -> bool:
    """True when, with this shipment, every shippable line has a tracking number."""
    if not shipment.store_line_ids:
        return True
    shipped = set(shipment.store_line_ids)
    for other in order.shipments:
        if other.status == "written":
            if not other.store_line_ids:
                return True
            shipped |= set(other.store_line_ids)
    return _shippable_line_ids(order) <= shipped


def write_back_order(session: Session, *, order_id: int, runtime: Runtime) -> str:
    order = session.get(Order, order_id)
    if order is None:
        return "missing"
    pending = [s for s in order.shipments if s.status == "pending"]
    if not pending:
        return "nothing_pending"
    store = session.get(Store, order.store_id)
    if not store.active:
        hold(session, order, "store_inactive", f"store {store.domain} is uninstalled or inactive, tracking "
             f"{pending[0].tracking_number} was not written. Resolution: reactivate the store "
             "(PATCH /admin/stores/<id>), then POST /admin/orders/<id>/retry.")
        return "held"
    adapter = get_adapter(store.platform)
    context = store_context(store, runtime)
    snapshot = dict(order.canonical, cj_order_id=order.cj_order_id)
    for shipment in pending:
        replaced = session.get(Shipment, shipment.replaces_shipment_id) if shipment.replaces_shipment_id else None
        to_write = ShipmentToWrite(tracking_number=shipment.tracking_number, carrier=shipment.carrier,
                                   tracking_url=shipment.tracking_url, store_line_ids=shipment.store_line_ids,
                                   replaces_fulfillment_id=replaced.store_fulfillment_id if replaced else None,
                                   final=_is_final(order, shipment))
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
    if order.state in ("shipped", "held", "paid", "submitted"):
        transition(session, order, "fulfilled", reason="tracking_written",
                   detail=", ".join(s.tracking_number for s in pending))
    return "fulfilled"
