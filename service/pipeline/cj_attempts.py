"""CJ attempts: the deterministic orderNumber of each CJ order a store order gets, and starting a new one.

A store order usually reaches CJ once. It gets another CJ order only when the first one is gone for good
(CJ cancelled it, or it was deleted when the store cancelled and the store then re-opened the order). Each
attempt has its own orderNumber, derived from the store order and the attempt number and recorded before
any create, so every attempt keeps the exactly-once guarantees of the first: the pending mark, the lookup
before any re-create, and 1603003 bound to the existing order.
"""
from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from service.storage.models import Order
from service.pipeline.order_state import note
from service.timeutil import iso, utcnow

ORDER_NUMBER_MAX = 50  # createOrderV2 orderNumber
_DIGEST_CHARS = 12


def cj_order_number(store_id: int, store_order_id: str, attempt: int = 0) -> str:
    """Deterministic CJ orderNumber (≤ 50 characters) for a store order's attempt (0 = the first).

    Too long a number keeps its start and ends with a digest of the whole, so two long store order ids
    that share their first 50 characters still get different numbers.
    """
    base = f"CJB{store_id}-{store_order_id}"
    suffix = f"-R{attempt}" if attempt else ""
    if len(base) + len(suffix) <= ORDER_NUMBER_MAX:
        return base + suffix
    digest = hashlib.sha256(base.encode()).hexdigest()[:_DIGEST_CHARS]
    return f"{base[:ORDER_NUMBER_MAX - len(suffix) - _DIGEST_CHARS - 1]}-{digest}{suffix}"


def start_new_attempt(session: Session, order: Order, *, why: str) -> None:
    """Archive the current CJ order in the order's history and clear the way for a new one.

    Only for a CJ order that can no longer ship (cancelled or deleted at CJ): the caller checks that.
    """
    history = list(order.cj_attempt_history or [])
    history.append({"attempt": order.cj_attempt, "order_number": order.cj_order_number,
                    "cj_order_id": order.cj_order_id, "cj_order_code": order.cj_order_code,
                    "cj_status": order.cj_status, "ended": why, "at": iso(utcnow())})
    order.cj_attempt_history = history
    order.cj_attempt = (order.cj_attempt or 0) + 1
    order.cj_order_number = cj_order_number(order.store_id, order.platform_order_id, order.cj_attempt)
    for attr in ("cj_create_state", "cj_order_id", "cj_order_code", "cj_status", "cj_logistic_name",
                 "cj_shipping_cost", "cj_order_amount", "cj_product_amount", "cj_postage_amount", "cj_pay_state",
                 "cj_paid_at", "cj_lines", "usd_rate", "last_cj_update_at"):
        setattr(order, attr, None)
    order.cj_confirmed = False
    note(session, order, "cj_new_attempt", f"{why}; the next CJ order will be {order.cj_order_number} "
         f"(attempt {order.cj_attempt + 1}; earlier: {history[-1]['order_number']})")
