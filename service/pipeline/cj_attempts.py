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

from service.storage.models import CjAccountState, Order
from service.pipeline.order_state import note
from service.timeutil import iso, utcnow

ORDER_NUMBER_MAX = 50  # createOrderV2 orderNumber
_DIGEST_CHARS = 12


def cj_order_number(store_id: int, store_order_id: str, *, prefix: str | None = None) -> str:
    """Deterministic CJ orderNumber (≤ 50 characters) of a store order's first CJ attempt.

    prefix: this deployment's (CjAccountState.order_number_prefix), so that two deployments sharing one CJ
    account never number two orders alike.
    """
    base = f"CJB{prefix}-{store_id}-{store_order_id}" if prefix else f"CJB{store_id}-{store_order_id}"
    return _fit(base, "")


def attempt_number(first_number: str, attempt: int) -> str:
    """The orderNumber of a later attempt: the first attempt's number with -R<attempt>."""
    return _fit(first_number, f"-R{attempt}") if attempt else first_number


def _fit(base: str, suffix: str) -> str:
    """base + suffix within 50 characters: too long a base keeps its start and ends with a digest of the
    whole, so two long store order ids that share their first 50 characters still get different numbers."""
    if len(base) + len(suffix) <= ORDER_NUMBER_MAX:
        return base + suffix
    digest = hashlib.sha256(base.encode()).hexdigest()[:_DIGEST_CHARS]
    return f"{base[:ORDER_NUMBER_MAX - len(suffix) - _DIGEST_CHARS - 1]}-{digest}{suffix}"


def deployment_prefix(session: Session) -> str | None:
    """This deployment's orderNumber prefix; drawn once by the migration, so it is read once per process."""
    key = session.get_bind().url.render_as_string(hide_password=True)
    if key not in _prefixes:
        row = session.get(CjAccountState, 1)
        if row is None or not row.order_number_prefix:
            return None  # a database migrated before the prefix existed (or a test's): not cached
        _prefixes[key] = row.order_number_prefix
    return _prefixes[key]


_prefixes: dict[str, str] = {}


def start_new_attempt(session: Session, order: Order, *, why: str) -> None:
    """Archive the current CJ order in the order's history and clear the way for a new one.

    Only for a CJ order that can no longer ship (cancelled or deleted at CJ): the caller checks that.
    """
    history = list(order.cj_attempt_history or [])
    first_number = history[0]["order_number"] if history else order.cj_order_number
    history.append({"attempt": order.cj_attempt, "order_number": order.cj_order_number,
                    "cj_order_id": order.cj_order_id, "cj_order_code": order.cj_order_code,
                    "cj_status": order.cj_status, "ended": why, "at": iso(utcnow())})
    order.cj_attempt_history = history
    order.cj_attempt = (order.cj_attempt or 0) + 1
    order.cj_order_number = attempt_number(first_number, order.cj_attempt)
    for attr in ("cj_create_state", "cj_order_id", "cj_order_code", "cj_status", "cj_logistic_name",
                 "cj_shipping_cost", "cj_order_amount", "cj_product_amount", "cj_postage_amount", "cj_pay_state",
                 "cj_paid_at", "cj_lines", "usd_rate", "last_cj_update_at"):
        setattr(order, attr, None)
    order.cj_confirmed = False
    note(session, order, "cj_new_attempt", f"{why}; the next CJ order will be {order.cj_order_number} "
         f"(attempt {order.cj_attempt + 1}; earlier: {history[-1]['order_number']})")
