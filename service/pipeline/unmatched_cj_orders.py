"""CJ orders that no store order accounts for: a daily sweep of CJ's order list, for reconciliation.

A CJ order that no store order of ours explains is money spent at CJ that no sale pays for: an order the
merchant placed by hand on My CJ, one from another tool or deployment sharing the CJ account, or one whose
store was erased. CJ's order list filters by status only (no date filter), so the sweep pages each status
that costs money, newest first as CJ lists them, until a whole page is older than CJ_ORDER_SWEEP_DAYS or a
page cap is hit. The list costs no points; its calls share the CJ request throttle with everything else.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.cj.account import locked_account
from service.cj.errors import CjApiError, CjTransportError, retry_if_transient
from service.cj.order_ids import cj_ids
from service.jobs.outcomes import RetryLater
from service.runtime import Runtime
from service.storage.models import CjOrderPart, Order, UnmatchedCjOrder
from service.timeutil import parse_iso_utc, utcnow
from service.money import to_cents

log = logging.getLogger(__name__)

# The list statuses of an order that cost (or will cost) money; CANCELLED ones are refunded or never paid.
SWEPT_STATUSES = ("CREATED", "IN_CART", "UNPAID", "UNSHIPPED", "SHIPPED", "DELIVERED")
PAGE_SIZE = 100
MAX_PAGES_PER_STATUS = 50  # 5,000 orders per status and run: a day's sweep never starves order forwarding
_IN_CHUNK = 500


def sweep_cj_orders(session: Session, *, runtime: Runtime) -> str:
    """Periodic (daily): record the CJ orders of the last CJ_ORDER_SWEEP_DAYS that no store order accounts for."""
    if runtime.settings.cj_dry_run:
        return "dry_run"
    session.commit()  # no transaction stays open across CJ's calls
    now = utcnow()
    since = now - timedelta(days=runtime.settings.cj_order_sweep_days)
    listed: dict[str, dict] = {}
    capped = []
    for status in SWEPT_STATUSES:
        rows, complete = _list_status(runtime, status=status, since=since)
        if not complete:
            capped.append(status)
        for row in rows:
            order_id, _code = cj_ids(row)
            if order_id:
                listed[order_id] = row
    ours = _accounted_for(session, listed)
    unmatched = {order_id: row for order_id, row in listed.items() if order_id not in ours}
    known = {row.cj_order_id: row for row in session.scalars(select(UnmatchedCjOrder))}
    for order_id, data in unmatched.items():
        row = known.get(order_id)
        if row is None:
            row = UnmatchedCjOrder(cj_order_id=order_id, first_seen_at=now)
            session.add(row)
        _fill(row, data, now)
    for order_id, row in known.items():
        if order_id in ours:
            session.delete(row)  # it was ours after all (its create was being recorded while we swept)
        elif order_id not in listed and row.gone_at is None and not capped \
                and (row.created_at_cj is None or row.created_at_cj >= since):
            row.gone_at = now  # off every money list within the window: cancelled, or deleted unpaid
    locked_account(session).orders_swept_at = now
    session.commit()
    summary = (f"{len(listed)} CJ order(s) listed since {since.date()}, {len(unmatched)} without a store order"
               + (f"; stopped at {MAX_PAGES_PER_STATUS} pages for {', '.join(capped)}" if capped else ""))
    log.info("cj_orders_swept", extra={"listed": len(listed), "unmatched": len(unmatched), "capped": capped})
    return summary


def _list_status(runtime: Runtime, *, status: str, since: datetime) -> tuple[list[dict], bool]:
    """The orders of one status created since `since`; complete=False when the page cap stopped it."""
    found: list[dict] = []
    for page in range(1, MAX_PAGES_PER_STATUS + 1):
        try:
            data = runtime.cj.list_orders_by_status(status=status, page=page, page_size=PAGE_SIZE)
        except (CjApiError, CjTransportError) as exc:
            retry_if_transient(exc, note=f" (order list {status}, page {page})")
            raise RetryLater(f"{exc}; CJ's order list refused, swept again later") from None
        rows = data["list"]
        dates = [_cj_time(r.get("createDate")) for r in rows]
        found.extend(r for r, d in zip(rows, dates) if d is None or d >= since)
        total = _int(data.get("total"))
        if not rows or len(rows) < PAGE_SIZE or (total is not None and page * PAGE_SIZE >= total):
            return found, True
        newest_first = all(a >= b for a, b in zip(dates, dates[1:]) if a and b)
        if newest_first and all(d is not None and d < since for d in dates):
            return found, True  # the rest is older still
    return found, False


def _accounted_for(session: Session, listed: dict[str, dict]) -> set[str]:
    """The listed CJ order ids that a store order of ours owns: its current CJ order, a split part of it, or
    an earlier attempt's order (by CJ id, CJ code, or the orderNumber we created it with)."""
    names: dict[str, str] = {}  # any name of a listed order → its CJ order id
    for order_id, row in listed.items():
        _id, code = cj_ids(row)
        for name in (order_id, code, row.get("orderNum"), row.get("orderNumber")):
            if name:
                names[str(name)] = order_id
    ours: set[str] = set()
    keys = list(names)
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start:start + _IN_CHUNK]
        for found in session.execute(select(Order.cj_order_id, Order.cj_order_code, Order.cj_order_number).where(
                or_(Order.cj_order_id.in_(chunk), Order.cj_order_code.in_(chunk),
                    Order.cj_order_number.in_(chunk)))):
            ours.update(names[n] for n in found if n in names)
        ours.update(names[n] for n in session.scalars(select(CjOrderPart.part_ref).where(
            CjOrderPart.part_ref.in_(chunk))) if n in names)
    # Earlier attempts are few (a CJ order gone for good, then re-created): read them all.
    for history in session.scalars(select(Order.cj_attempt_history).where(Order.cj_attempt > 0)):
        for attempt in history or []:
            for key in ("order_number", "cj_order_id", "cj_order_code"):
                if attempt.get(key) in names:
                    ours.add(names[attempt[key]])
    return ours


def _fill(row: UnmatchedCjOrder, data: dict, now: datetime) -> None:
    _id, code = cj_ids(data)
    row.cj_order_code = code
    row.order_num = (data.get("orderNum") or data.get("orderNumber") or None)
    row.cj_status = data.get("orderStatus")
    row.order_amount = to_cents(data.get("orderAmount"))
    row.product_amount = to_cents(data.get("productAmount"))
    row.postage_amount = to_cents(data.get("postageAmount"))
    row.created_at_cj = _cj_time(data.get("createDate"))
    row.paid_at_cj = _cj_time(data.get("paymentDate"))
    row.last_seen_at = now
    row.gone_at = None


def _cj_time(value) -> datetime | None:
    """CJ's list and detail times ("2025-09-23 06:18:37") read as UTC: the same order's webhook shows the
    time 8 hours later, and its create answer says +08:00 (reference cj-api.md; UNCONFIRMED by CJ)."""
    try:
        return parse_iso_utc(str(value)) if value else None
    except ValueError:
        return None



def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
