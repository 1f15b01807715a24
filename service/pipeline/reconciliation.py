"""Reconciliation: store revenue against what CJ charged, one row per store order, with totals and flags.

CJ's amounts are the ones CJ answered (createOrderV2 and getOrderDetail: orderAmount, productAmount,
postageAmount), stored on the order; never our estimate. Money is Decimal end to end. The margin is in the
store's currency, through the USD rate stored with the order (or the rate configured now); without a rate
it is left empty and flagged.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage.models import CjAccountState, Order, Store, UnmatchedCjOrder
from service.pipeline.order_state import CJ_PAID_STATUSES
from service.pipeline.usd_amounts import CENT, usd_rate
from service.timeutil import parse_iso_utc

COLUMNS = ("store", "store_id", "order", "store_order_id", "order_date", "currency", "revenue_total",
           "shipping_charged", "cj_order_id", "cj_product_cost_usd", "cj_shipping_cost_usd", "cj_total_usd",
           "cj_paid_at", "usd_per_unit", "margin", "flags")
# An order received this long after the period still counts by its own date (the store's created_at).
_LATE_ARRIVAL = timedelta(days=7)
CJ_ONLY = "(no store order)"  # the store column of a CJ order that no store order accounts for


@dataclass
class Reconciliation:
    start: date
    end: date  # inclusive
    rows: list[dict] = field(default_factory=list)
    cj_orders_swept_at: datetime | None = None  # when CJ's order list was last read for cj_without_store_order
    totals: list[dict] = field(default_factory=list)  # per store and currency, then overall per currency


def reconcile(session: Session, *, start: date, end: date) -> Reconciliation:
    """Every non-test store order dated start..end (inclusive, UTC), by store then date."""
    begin, finish = datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min)
    stores = {s.id: s for s in session.scalars(select(Store))}
    orders = session.scalars(select(Order).where(Order.test.is_(False), Order.created_at >= begin - _LATE_ARRIVAL,
                                                 Order.created_at < finish + _LATE_ARRIVAL)
                             .order_by(Order.store_id, Order.created_at, Order.id))
    report = Reconciliation(start=start, end=end)
    for order in orders:
        dated = _order_date(order)
        if not begin <= dated < finish:
            continue
        report.rows.append(_row(session, order, stores.get(order.store_id), dated))
    # CJ orders that no store order accounts for (the daily sweep of CJ's order list), dated by CJ.
    for cj_only in session.scalars(select(UnmatchedCjOrder).where(
            UnmatchedCjOrder.gone_at.is_(None), UnmatchedCjOrder.created_at_cj >= begin,
            UnmatchedCjOrder.created_at_cj < finish).order_by(UnmatchedCjOrder.created_at_cj)):
        report.rows.append(_cj_only_row(cj_only))
    account = session.get(CjAccountState, 1)
    report.cj_orders_swept_at = account.orders_swept_at if account is not None else None
    report.totals = _totals(report.rows)
    return report


def _cj_only_row(cj: UnmatchedCjOrder) -> dict:
    total = cj.order_amount
    if total is None and cj.product_amount is not None and cj.postage_amount is not None:
        total = cj.product_amount + cj.postage_amount
    return {"store": CJ_ONLY, "store_id": None, "order": cj.order_num or cj.cj_order_code or "",
            "store_order_id": "", "order_date": cj.created_at_cj.date().isoformat(), "currency": "",
            "revenue_total": None, "shipping_charged": None, "cj_order_id": cj.cj_order_id,
            "cj_product_cost_usd": cj.product_amount, "cj_shipping_cost_usd": cj.postage_amount,
            "cj_total_usd": total, "cj_paid_at": cj.paid_at_cj.isoformat(timespec="seconds") + "Z"
            if cj.paid_at_cj else "", "usd_per_unit": None, "margin": None, "flags": ["cj_without_store_order"]}


def _row(session: Session, order: Order, store: Store | None, dated: datetime) -> dict:
    canonical = order.canonical or {}
    revenue = _decimal(canonical.get("total_price"))
    shipping = _decimal(canonical.get("shipping_price"))
    product, postage, cj_total = order.cj_product_amount, order.cj_postage_amount, order.cj_order_amount
    if cj_total is None and product is not None and postage is not None:
        cj_total = product + postage
    rate = order.usd_rate if order.usd_rate is not None else usd_rate(session, order.currency)
    paid_at_cj = order.cj_pay_state == "paid" or order.cj_status in CJ_PAID_STATUSES
    flags = []
    if canonical.get("paid") and not order.cancelled and not order.cj_order_id:
        flags.append("no_cj_order")
    if order.cj_order_id and cj_total is None:
        flags.append("cj_amounts_missing")  # read by the next CJ sync; never estimated here
    if _drifted(order, product, postage):
        flags.append("amount_drift")
    if order.cancelled and paid_at_cj:
        flags.append("cancelled_but_paid")
    if canonical.get("refunded") or (order.financial_status or "").lower() in ("refunded", "partially_refunded",
                                                                               "fully_refunded"):
        flags.append("refunded_in_store")
    margin = None
    if revenue is not None and cj_total is not None:
        if rate:
            margin = (revenue - (cj_total / Decimal(rate))).quantize(CENT)
        else:
            flags.append("no_exchange_rate")
    return {"store": store.domain if store else "", "store_id": order.store_id, "order": order.name or "",
            "store_order_id": order.platform_order_id, "order_date": dated.date().isoformat(),
            "currency": order.currency or "", "revenue_total": revenue, "shipping_charged": shipping,
            "cj_order_id": order.cj_order_id or "", "cj_product_cost_usd": product, "cj_shipping_cost_usd": postage,
            "cj_total_usd": cj_total, "cj_paid_at": order.cj_paid_at.isoformat(timespec="seconds") + "Z"
            if order.cj_paid_at else "", "usd_per_unit": Decimal(rate) if rate else None, "margin": margin,
            "flags": flags}


def _drifted(order: Order, product: Decimal | None, postage: Decimal | None) -> bool:
    """CJ charged other postage than it quoted, or its total is not its parts."""
    if postage is not None and order.cj_shipping_cost is not None and abs(postage - order.cj_shipping_cost) > CENT:
        return True
    return (order.cj_order_amount is not None and product is not None and postage is not None
            and abs(order.cj_order_amount - product - postage) > CENT)


def _totals(rows: list[dict]) -> list[dict]:
    def add(into: dict, row: dict) -> None:
        into["orders"] += 1
        for key in ("revenue_total", "cj_total_usd", "margin"):
            if row[key] is not None:
                into[key] += row[key]
        into["flagged"] += bool(row["flags"])

    per_store: dict[tuple, dict] = {}
    overall: dict[str, dict] = {}
    for row in rows:
        blank = {"orders": 0, "revenue_total": Decimal(0), "cj_total_usd": Decimal(0), "margin": Decimal(0),
                 "flagged": 0}
        add(per_store.setdefault((row["store"], row["currency"]), dict(blank, store=row["store"],
                                                                       currency=row["currency"])), row)
        add(overall.setdefault(row["currency"], dict(blank, store="ALL STORES", currency=row["currency"])), row)
    return list(per_store.values()) + list(overall.values())


def as_json(report: Reconciliation) -> dict:
    def plain(value):
        return str(value) if isinstance(value, Decimal) else value
    return {"from": report.start.isoformat(), "to": report.end.isoformat(),
            "cj_orders_swept_at": report.cj_orders_swept_at.isoformat(timespec="seconds") + "Z"
            if report.cj_orders_swept_at else None,
            "rows": [{k: plain(v) for k, v in row.items()} for row in report.rows],
            "totals": [{k: plain(v) for k, v in total.items()} for total in report.totals]}


def as_csv(report: Reconciliation) -> str:
    """UTF-8 text with a byte-order mark (spreadsheets then read accents right), ISO dates, '.' decimals."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in report.rows:
        writer.writerow([";".join(row[c]) if c == "flags" else _cell(row[c]) for c in COLUMNS])
    writer.writerow([])
    writer.writerow(["totals", "currency", "orders", "revenue_total", "cj_total_usd", "margin", "flagged"])
    for total in report.totals:
        writer.writerow([total["store"], total["currency"], total["orders"], _cell(total["revenue_total"]),
                         _cell(total["cj_total_usd"]), _cell(total["margin"]), total["flagged"]])
    writer.writerow([])
    writer.writerow(["cj_order_list_read_at", report.cj_orders_swept_at.isoformat(timespec="seconds") + "Z"
                     if report.cj_orders_swept_at else "never (cj_without_store_order not checked yet)"])
    return out.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value == value.quantize(CENT) else str(value)
    return str(value)


def _decimal(value) -> Decimal | None:
    return Decimal(str(value)) if value not in (None, "") else None


def _order_date(order: Order) -> datetime:
    try:
        dated = parse_iso_utc((order.canonical or {}).get("created_at"))
    except (TypeError, ValueError):
        dated = None
    return dated or order.created_at


def last_full_week(today: date) -> tuple[date, date]:
    """Monday to Sunday of the last week that has ended (UTC)."""
    end = today - timedelta(days=today.weekday() + 1)
    return end - timedelta(days=6), end


def write_weekly_report(session: Session, *, runtime) -> str:
    """Periodic (daily): once a week has ended, keep its reconciliation and send its summary to the alert webhook."""
    from service.storage.models import ReconciliationReport
    from service.timeutil import utcnow
    start, end = last_full_week(utcnow().date())
    if session.scalar(select(ReconciliationReport.id).where(ReconciliationReport.period_start == start)):
        return f"week {start} already written"
    report = reconcile(session, start=start, end=end)
    summary = {"orders": len(report.rows), "flagged": sum(1 for r in report.rows if r["flags"]),
               "totals": as_json(report)["totals"]}
    session.add(ReconciliationReport(period_start=start, period_end=end, csv_text=as_csv(report), summary=summary))
    session.commit()
    url = runtime.settings.alert_webhook_url
    if url:
        lines = [f"• {t['store']} ({t['currency']}): {t['orders']} order(s), revenue {t['revenue_total']}, CJ "
                 f"{t['cj_total_usd']} USD, margin {t['margin']}, {t['flagged']} flagged" for t in summary["totals"]]
        text = (f"CJ Bridge reconciliation {start} – {end}: {summary['orders']} order(s), {summary['flagged']} "
                "flagged (GET /admin/reconciliation/reports)\n" + "\n".join(lines))
        try:
            runtime.http.request("POST", url, service="alerts", operation="postReconciliation", secret_path=True,
                                 json={"text": text})
        except Exception:  # noqa: BLE001 - the report is kept; the summary is only a notice
            pass
    return f"week {start} written: {summary['orders']} order(s), {summary['flagged']} flagged"
