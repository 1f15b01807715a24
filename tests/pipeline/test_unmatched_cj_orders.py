"""The daily sweep of CJ's order list: CJ orders that no store order accounts for, and only those."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import requests
import responses
from sqlalchemy import select

from service.jobs.outcomes import RetryLater
from service.pipeline import unmatched_cj_orders
from service.pipeline.reconciliation import as_csv, as_json, reconcile
from service.storage.models import CjOrderPart, Order, UnmatchedCjOrder
from tests.conftest import the_order
from tests.fakes import FakeCj, envelope
from tests.pipeline.test_full_path import place_mapped_order
from tests.pipeline.test_reconciliation import WEEK, week  # noqa: F401 - the fixture

NOW = datetime(2026, 12, 2, 8, 0)


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(unmatched_cj_orders, "utcnow", lambda: NOW)
    return NOW


def _sweep(runtime, session_factory) -> str:
    with session_factory() as s:
        return unmatched_cj_orders.sweep_cj_orders(s, runtime=runtime)


def _unmatched(session_factory) -> dict[str, UnmatchedCjOrder]:
    with session_factory() as s:
        return {row.cj_order_id: row for row in s.scalars(select(UnmatchedCjOrder))}


def _cj_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@responses.activate
def test_a_week_with_one_cj_order_that_no_store_order_accounts_for(week, runtime, session_factory, clock):
    """Issue 15 (1): `cj_without_store_order` was never flagged; CJ's list has no date filter."""
    cj = FakeCj(responses.mock)
    # CJ's list holds the week's orders of ours (by CJ id), one the merchant placed on My CJ, one of the
    # next week, and one from before the sweep's window.
    cj.add_order("CJB-1-1001", order_id="2509231418372749101", status="UNSHIPPED")
    cj.add_order("CJB-1-1003", order_id="2509231418372749102", status="UNSHIPPED")
    cj.add_order("MYCJ-5521", order_id="2511260930001234567", status="SHIPPED", created="2026-11-26 09:30:00",
                 amount=31.40, product=24.90, postage=6.50, paid="2026-11-26 09:41:07")
    cj.add_order("MYCJ-5530", order_id="2512010930001234599", status="UNPAID", created="2026-12-01 10:00:00",
                 amount=12.00, product=9.00, postage=3.00)
    cj.add_order("MYCJ-4000", order_id="2509010930001230000", status="DELIVERED", created="2026-09-01 10:00:00")

    assert _sweep(runtime, session_factory) == \
        "4 CJ order(s) listed since 2026-10-18, 2 without a store order"
    assert sorted(_unmatched(session_factory)) == ["2511260930001234567", "2512010930001234599"]
    assert {q["status"] for _op, q in cj.ops("orderList")} == set(unmatched_cj_orders.SWEPT_STATUSES)

    with session_factory() as s:
        report = reconcile(s, start=WEEK[0], end=WEEK[1])
    text = as_csv(report)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = rows[0]
    records = [dict(zip(header, r)) for r in rows[1:] if len(r) == len(header)]
    (cj_only,) = [r for r in records if r["flags"] == "cj_without_store_order"]
    assert cj_only == {"store": "(no store order)", "store_id": "", "order": "MYCJ-5521", "store_order_id": "",
                       "order_date": "2026-11-26", "currency": "", "revenue_total": "", "shipping_charged": "",
                       "cj_order_id": "2511260930001234567", "cj_product_cost_usd": "24.90",
                       "cj_shipping_cost_usd": "6.50", "cj_total_usd": "31.40",
                       "cj_paid_at": "2026-11-26T09:41:07Z", "usd_per_unit": "", "margin": "",
                       "flags": "cj_without_store_order"}
    assert len(records) == 7  # the six store orders and the CJ-only one; not next week's
    assert ["(no store order)", "", "1", "0.00", "31.40", "0.00", "1"] in rows
    assert ["cj_order_list_read_at", "2026-12-02T08:00:00Z"] in rows
    assert as_json(report)["cj_orders_swept_at"] == "2026-12-02T08:00:00Z"


@responses.activate
def test_orders_of_ours_are_never_flagged_whatever_name_cj_lists_them_by(client, shopify_store, runtime,
                                                                         session_factory):
    """The current CJ order (id), a create still being recorded (orderNumber only), an earlier attempt,
    and a part CJ split out of ours all belong to a store order."""
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    assert order.cj_order_id and not cj.orders[order.cj_order_number].get("productAmount")
    now = _cj_time(datetime.utcnow())
    cj.add_order(order.cj_order_number + "-R9", order_id="2512040000000000001", created=now)  # no store order
    cj.add_order("CJB1-old-attempt", order_id="2512040000000000002", status="CANCELLED", created=now)
    cj.add_order("CJB1-old-attempt-b", order_id="2512040000000000003", created=now)
    cj.add_order("CJ-SPLIT", order_id="2512040000000000004", created=now)
    with session_factory() as s:
        row = s.get(Order, order.id)
        row.cj_attempt_history = [{"attempt": 0, "order_number": "CJB1-old-attempt-b", "cj_order_id": None}]
        row.cj_attempt = 1
        s.add(CjOrderPart(order_id=order.id, part_ref="2512040000000000004", confirmed=True))
        s.commit()
    assert _sweep(runtime, session_factory).endswith(", 1 without a store order")
    assert list(_unmatched(session_factory)) == ["2512040000000000001"]


@responses.activate
def test_a_cancelled_cj_only_order_leaves_reconciliation_and_one_found_to_be_ours_is_forgotten(
        runtime, session_factory, clock, shopify_store):
    cj = FakeCj(responses.mock)
    cj.add_order("MYCJ-1", order_id="2511300000000000001", created="2026-11-30 10:00:00", amount=10)
    cj.add_order("CJB1-7001", order_id="2511300000000000002", created="2026-11-30 11:00:00", amount=20)
    _sweep(runtime, session_factory)
    assert sorted(_unmatched(session_factory)) == ["2511300000000000001", "2511300000000000002"]

    cj.orders["MYCJ-1"]["orderStatus"] = "CANCELLED"  # the merchant cancelled it on My CJ
    with session_factory() as s:  # and the other's store order was recorded after the first sweep read it
        s.add(Order(store_id=shopify_store["id"], platform_order_id="7001", cj_order_number="CJB1-7001",
                    state="paid", canonical={}))
        s.commit()
    _sweep(runtime, session_factory)
    rows = _unmatched(session_factory)
    assert list(rows) == ["2511300000000000001"] and rows["2511300000000000001"].gone_at == NOW
    with session_factory() as s:
        assert reconcile(s, start=date(2026, 11, 30), end=date(2026, 11, 30)).rows == []

    cj.orders["MYCJ-1"]["orderStatus"] = "UNSHIPPED"  # re-opened (or paid after all): listed again
    _sweep(runtime, session_factory)
    assert _unmatched(session_factory)["2511300000000000001"].gone_at is None


@responses.activate
def test_paging_stops_at_the_window_and_at_the_page_cap(runtime, session_factory, clock, monkeypatch):
    cj = FakeCj(responses.mock)
    for n in range(150):  # newest first: 100 inside the 45-day window, then 50 older
        created = NOW - timedelta(days=1 if n < 100 else 60, minutes=n)
        cj.add_order(f"MYCJ-A{n}", order_id=f"25110000000{n:05d}", status="DELIVERED", created=_cj_time(created))
    for n in range(250):
        cj.add_order(f"MYCJ-B{n}", order_id=f"25120000000{n:05d}", status="SHIPPED",
                     created=_cj_time(NOW - timedelta(days=2, minutes=n)))
    monkeypatch.setattr(unmatched_cj_orders, "MAX_PAGES_PER_STATUS", 2)
    outcome = _sweep(runtime, session_factory)
    assert outcome == ("300 CJ order(s) listed since 2026-10-18, 300 without a store order; "
                       "stopped at 2 pages for SHIPPED")
    pages = [(q["status"], q["pageNum"]) for _op, q in cj.ops("orderList")]
    assert pages.count(("DELIVERED", "1")) == 1 and ("DELIVERED", "2") in pages and ("DELIVERED", "3") not in pages
    assert ("SHIPPED", "3") not in pages
    assert all(q["pageSize"] == "100" for _op, q in cj.ops("orderList"))

    # A capped sweep cannot tell a cancelled order from one past the cap: nothing is marked gone.
    for n in range(10):
        del cj.orders[f"MYCJ-B{n}"]
    _sweep(runtime, session_factory)
    assert not [r for r in _unmatched(session_factory).values() if r.gone_at]
    monkeypatch.setattr(unmatched_cj_orders, "MAX_PAGES_PER_STATUS", 50)
    assert _sweep(runtime, session_factory).endswith("340 without a store order")
    gone = sorted(r.order_num for r in _unmatched(session_factory).values() if r.gone_at)
    assert gone == sorted(f"MYCJ-B{n}" for n in range(10))


@responses.activate
def test_a_refused_list_is_retried_later_and_dry_run_reads_nothing(runtime, session_factory, make_app, clock):
    cj = FakeCj(responses.mock)
    cj.fail_next["orderList"] = [requests.ConnectionError("reset")]
    with pytest.raises(RetryLater):
        _sweep(runtime, session_factory)
    cj.fail_next["orderList"] = [(200, envelope(code=1600200, message="Too Many Requests"))]
    with pytest.raises(RetryLater):
        _sweep(runtime, session_factory)
    assert _unmatched(session_factory) == {}
    dry = make_app(CJ_DRY_RUN="true").extensions["cj_bridge"]
    assert _sweep(dry, session_factory) == "dry_run"


def test_the_sweep_is_a_daily_job(runtime):
    from service.jobs.worker import periodic_kinds
    assert periodic_kinds(runtime)["sweep_cj_orders"] == timedelta(hours=24)


def test_money_is_decimal(session_factory):
    row = UnmatchedCjOrder(cj_order_id="1")
    unmatched_cj_orders._fill(row, {"orderId": "1", "orderAmount": 31.4, "productAmount": "24.9",
                                    "postageAmount": None, "createDate": "not a date"}, NOW)
    assert row.order_amount == Decimal("31.40") and row.postage_amount is None and row.created_at_cj is None
