"""Tracking numbers reported by CJ become Shipment rows that the write-back job delivers.

CJ may ship one order in several parcels (a split across warehouses, ORDERSPLIT), and it never says that a
new number replaces an earlier one. So a new number is never swapped in for an old one: a parcel whose lines
are known and not yet shipped gets a fulfillment of its own; any other new number is added to the existing
shipment's fulfillment as another tracking entry, and the customer sees every number.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from service.jobs.queue import enqueue
from service.storage.models import Order, Shipment
from service.pipeline.order_state import advance, note
from service.timeutil import utcnow

LIVE = ("pending", "written")


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

    live = [s for s in order.shipments if s.status in LIVE]
    joins = None
    if live and not (store_line_ids and _lines_not_yet_shipped(live, store_line_ids)):
        # Another number for lines already on their way: one more tracking entry on that fulfillment.
        joins = _root(session, live[-1])
        note(session, order, "tracking_added",
             f"CJ reported another tracking number, {tracking_number}, besides {joins.tracking_number}; both are "
             "kept")
    shipment = Shipment(order_id=order.id, tracking_number=tracking_number, carrier=carrier,
                        tracking_url=tracking_url, store_line_ids=store_line_ids, status="pending",
                        adds_to_shipment_id=joins.id if joins else None, created_at=utcnow())
    session.add(shipment)
    order.shipments.append(shipment)
    if order.state in ("submitted", "paid", "held", "fulfilled"):
        # A hold for a human stays (the number is noted beside it); an automatic one is moot once CJ shipped.
        advance(session, order, "shipped", reason="tracking_received",
                detail=f"{carrier or 'carrier unknown'} {tracking_number}")
    _queue_write_back(session, order)
    return shipment


def _lines_not_yet_shipped(live: list[Shipment], line_ids: list[str]) -> bool:
    """True when none of these lines is on a live shipment that names its lines (or on one that names none)."""
    shipped: set[str] = set()
    for s in live:
        if not s.store_line_ids:
            return False  # that parcel covers every line
        shipped |= set(s.store_line_ids)
    return not (shipped & set(line_ids))


def _root(session: Session, shipment: Shipment) -> Shipment:
    """The shipment whose fulfillment a group of numbers shares."""
    if shipment.adds_to_shipment_id is None:
        return shipment
    return session.get(Shipment, shipment.adds_to_shipment_id) or shipment


def _queue_write_back(session: Session, order: Order) -> None:
    session.flush()
    enqueue(session, kind="write_back", payload={"order_id": order.id}, dedupe_key=f"write_back:{order.id}")
