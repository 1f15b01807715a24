"""Tracking numbers reported by CJ become Shipment rows that the write-back job delivers."""
from __future__ import annotations

from sqlalchemy.orm import Session

from service.jobs.queue import enqueue
from service.storage.models import Order, Shipment
from service.pipeline.order_state import note, transition
from service.timeutil import utcnow


def record_shipment(session: Session, order: Order, *, tracking_number: str, carrier: str | None,
                    tracking_url: str | None, store_line_ids: list[str] | None) -> Shipment:
    """Upsert the shipment for a tracking number and make sure a write-back is queued if needed."""
    tracking_number = tracking_number.strip()
    existing = next((s for s in order.shipments if s.tracking_number == tracking_number), None)
    if existing is not None:
        existing.carrier = existing.carrier or carrier
        existing.tracking_url = existing.tracking_url or tracking_url
        if existing.status == "pending":
            _queue_write_back(session, order)
        return existing

    replaced = None
    live = [s for s in order.shipments if s.status in ("pending", "written")]
    same_lines = [s for s in live if not s.store_line_ids or not store_line_ids
                  or sorted(s.store_line_ids) == sorted(store_line_ids)]
    if same_lines:
        # CJ changed the tracking number of the same parcel: update it instead of adding another.
        replaced = same_lines[-1]
        replaced.status = "replaced"
        note(session, order, "tracking_changed",
             f"CJ replaced tracking {replaced.tracking_number} with {tracking_number}")
    shipment = Shipment(order_id=order.id, tracking_number=tracking_number, carrier=carrier,
                        tracking_url=tracking_url, store_line_ids=store_line_ids, status="pending",
                        replaces_shipment_id=replaced.id if replaced else None, created_at=utcnow())
    session.add(shipment)
    order.shipments.append(shipment)
    if order.state in ("submitted", "paid", "held", "fulfilled"):
        transition(session, order, "shipped", reason="tracking_received",
                   detail=f"{carrier or 'carrier unknown'} {tracking_number}")
    _queue_write_back(session, order)
    return shipment


def _queue_write_back(session: Session, order: Order) -> None:
    session.flush()
    enqueue(session, kind="write_back", payload={"order_id": order.id}, dedupe_key=f"write_back:{order.id}")
