"""CJ order parts: when CJ splits one of our orders (ORDERSPLIT), each part ships as its own parcel.

The ORDERSPLIT message is a hint like every CJ message: it names our order and the codes of its parts, and
each part is then read from CJ's API. A part counts as ours only when CJ's answer says so (our orderNumber,
or products all from this order to its destination). Its tracking number becomes a shipment of the store
lines its products are, so the store gets one fulfillment per parcel with that parcel's lines.
"""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cj.order_ids import cj_ids
from service.storage.models import CjOrderPart, Order
from service.pipeline.order_state import note
from service.pipeline.shipments import record_shipment
from service.pipeline.tracking_urls import safe_tracking_url
from service.timeutil import utcnow

log = logging.getLogger("cj_bridge.pipeline")

MAX_PARTS = 20  # a message names at most this many (it is not trusted; an order has a few lines)


def note_claimed_parts(session: Session, *, order_ids: list[int], params: dict) -> int:
    """Record the parts an ORDERSPLIT message claims for our order(s); they are read, not believed."""
    refs = []
    for part in (params.get("splitOrderList") or [])[:MAX_PARTS]:
        if isinstance(part, dict):
            ref = str(part.get("orderCode") or part.get("orderId") or "").strip()
            if ref and len(ref) <= 64:
                refs.append(ref)
    added = 0
    for order_id in order_ids:
        known = set(session.scalars(select(CjOrderPart.part_ref).where(CjOrderPart.order_id == order_id)))
        for ref in dict.fromkeys(refs):
            if ref not in known:
                session.add(CjOrderPart(order_id=order_id, part_ref=ref, confirmed=False, created_at=utcnow()))
                added += 1
    return added


def orders_with_parts(session: Session, refs: set[str]) -> list[int]:
    """Our orders that have a part under one of these CJ ids or codes."""
    if not refs:
        return []
    return list(session.scalars(select(CjOrderPart.order_id).where(CjOrderPart.part_ref.in_(refs)).limit(10)))


def parts_to_read(session: Session, order_ids: list[int]) -> list[CjOrderPart]:
    """Parts of these orders that may still bring news (not yet delivered or cancelled)."""
    if not order_ids:
        return []
    return list(session.scalars(select(CjOrderPart).where(
        CjOrderPart.order_id.in_(order_ids),
        (CjOrderPart.cj_status.is_(None)) | (CjOrderPart.cj_status.not_in(("DELIVERED", "CANCELLED"))))))


def apply_part_read(session: Session, *, order: Order, part: CjOrderPart, data: dict | None) -> str:
    """Apply what CJ's API says about one part of the order."""
    part.read_at = utcnow()
    if data is None:
        return "part_not_found"
    if not _is_ours(order, data):
        if not part.confirmed:
            note(session, order, "cj_part_refused", f"CJ order {part.part_ref}, named as a part of this order, "
                 "is not this order's (another orderNumber, or products or destination of another order)")
        return "part_not_ours"
    part.confirmed = True
    part.cj_status = str(data.get("orderStatus") or "") or part.cj_status
    by_vid = {str(line.get("vid")): str(line["line_id"]) for line in order.cj_lines or []}
    line_ids = sorted({by_vid[str(p.get("vid"))] for p in data.get("productList") or []
                       if isinstance(p, dict) and str(p.get("vid")) in by_vid})
    part.store_line_ids = line_ids or None
    track = str(data.get("trackNumber") or data.get("trackingNumber") or "").strip()
    if track and part.cj_status != "CANCELLED":
        if part.tracking_number != track:
            note(session, order, "cj_part_shipped", f"CJ part {part.part_ref} ({len(line_ids)} line(s)) shipped "
                 f"with {track}")
        part.tracking_number = track
        record_shipment(session, order, tracking_number=track, carrier=str(data.get("logisticName") or "") or None,
                        tracking_url=safe_tracking_url(str(data.get("trackingUrl") or "") or None, track),
                        store_line_ids=line_ids or None)
    return "part_applied"


def has_confirmed_parts(session: Session, order_id: int) -> bool:
    return session.scalar(select(CjOrderPart.id).where(CjOrderPart.order_id == order_id,
                                                       CjOrderPart.confirmed.is_(True)).limit(1)) is not None


def _is_ours(order: Order, data: dict) -> bool:
    number = str(data.get("orderNumber") or data.get("orderNum") or "")
    if number:
        return number == order.cj_order_number
    # No number in the answer: every product one this order sent, to this order's country.
    sent = {str(line.get("vid")) for line in order.cj_lines or []}
    products = [str(p.get("vid")) for p in data.get("productList") or [] if isinstance(p, dict)]
    country = str(data.get("shippingCountryCode") or "").upper()
    ours_country = str(((order.canonical or {}).get("shipping_address") or {}).get("country_code") or "").upper()
    return bool(products) and set(products) <= sent and country == ours_country and cj_ids(data)[0] is not None
