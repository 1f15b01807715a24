"""Finding orders for the merchant: counts by state, a filtered page, the lines still missing a CJ variant."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from service.pipeline import mapping
from service.storage.models import Order

MAX_SEARCH_CHARS = 100


def count_by_state(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Order.state, func.count(Order.id)).group_by(Order.state)).all())


def find_orders(session: Session, *, state: str | None = None, store_id: int | None = None,
                text: str | None = None, before_id: int | None = None, limit: int = 50) -> list[Order]:
    """Newest first. text matches the order name, the store's order id or CJ's ids (part of any, any case)."""
    stmt = select(Order).order_by(Order.id.desc()).limit(limit)
    if state:
        stmt = stmt.where(Order.state == state)
    if store_id is not None:
        stmt = stmt.where(Order.store_id == store_id)
    if before_id:
        stmt = stmt.where(Order.id < before_id)
    text = (text or "").strip()[:MAX_SEARCH_CHARS]
    if text:
        # Escaped: a % or _ typed by the merchant is a character, not a wildcard.
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(*(func.lower(column).like(pattern, escape="\\") for column in (
            Order.name, Order.platform_order_id, Order.cj_order_id, Order.cj_order_code, Order.cj_order_number))))
    return list(session.scalars(stmt))


def unmapped_lines(session: Session, order: Order) -> list[dict]:
    """The order's shipped lines that no mapping gives a CJ variant: the lines a merchant maps. (CJ's cached
    answer for a SKU, which forward also uses, does not count: a lookup on the page caches one, and the line must
    stay on the page until its mapping is saved.)"""
    lines = [line for line in (order.canonical or {}).get("lines", [])
             if line.get("requires_shipping", True) and line.get("quantity", 0) > 0]
    _, missing = mapping.resolve_lines(session, store_id=order.store_id, lines=lines, use_cache=False)
    return missing
