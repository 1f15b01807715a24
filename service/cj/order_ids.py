"""CJ's two names for one order, read from any of its payloads."""
from __future__ import annotations


def cj_ids(data: dict) -> tuple[str | None, str | None]:
    """(CJ's numeric order id, CJ's "CJ…" order code) from a create answer, an order detail or an ORDER message.

    getOrderDetail carries both (orderId, and the code as cjOrderId/cjOrderCode); an ORDER message carries the
    numeric id as cjOrderId. LOGISTIC messages and createOrderV2 use orderId. Only the numeric id matches
    them all, so it is the one orders are found by; the code is kept to show the merchant (My CJ shows it).
    """
    def text(value):
        return None if value in (None, "") else str(value)
    code = text(data.get("cjOrderCode"))
    order_id = text(data.get("orderId"))
    other = text(data.get("cjOrderId"))
    if other is not None:
        if other.isdigit():
            order_id = order_id or other
        else:
            code = code or other
    return order_id, code
