"""Reconciliation: a week of orders across two stores, against what CJ charged; CSV, JSON and the CLI."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import json

import pytest
import responses

from service.pipeline.reconciliation import as_csv, reconcile
from service.storage.models import Order, Store
from tests.conftest import admin_headers

WEEK = (date(2026, 11, 23), date(2026, 11, 29))


def _store(session, domain, platform="shopify") -> Store:
    store = Store(platform=platform, domain=domain, webhook_secret_enc="x", credentials_enc=None, active=True)
    session.add(store)
    session.flush()
    return store


def _order(session, store, number, day, *, total, currency="USD", shipping="4.99", paid=True, cancelled=False,
           refunded=False, cj=None, test=False, financial="paid") -> Order:
    created = datetime(2026, 11, day, 12, 0)
    order = Order(store_id=store.id, platform_order_id=str(number), name=f"#{number}", state="paid",
                  cj_order_number=f"CJB-{store.id}-{number}", currency=currency, total_price=Decimal(total),
                  cancelled=cancelled, test=test, financial_status=financial, created_at=created,
                  canonical={"total_price": total, "shipping_price": shipping, "paid": paid, "cancelled": cancelled,
                             "refunded": refunded, "created_at": created.isoformat() + "Z"})
    for key, value in (cj or {}).items():
        setattr(order, key, value)
    session.add(order)
    return order


def _paid_at_cj(product, postage, *, quote=None, total=None, rate=None, order_id="2509231418372749101"):
    return {"cj_order_id": order_id, "cj_product_amount": Decimal(product), "cj_postage_amount": Decimal(postage),
            "cj_order_amount": Decimal(total) if total else Decimal(product) + Decimal(postage),
            "cj_shipping_cost": Decimal(quote or postage), "cj_pay_state": "paid", "cj_status": "UNSHIPPED",
            "cj_paid_at": datetime(2026, 11, 25, 9, 30), "usd_rate": Decimal(rate) if rate else None}


@pytest.fixture
def week(session_factory):
    with session_factory() as s:
        us, eu = _store(s, "us-shop.myshopify.com"), _store(s, "eu-shop.example.com", "woocommerce")
        _order(s, us, 1001, 23, total="61.47", cj=_paid_at_cj("18.31", "6.20"))
        _order(s, us, 1002, 24, total="30.00")  # paid, never reached CJ
        _order(s, us, 1003, 25, total="40.00", cancelled=True, financial="refunded", refunded=True,
               cj=_paid_at_cj("12.00", "5.00", order_id="2509231418372749102"))
        _order(s, us, 1004, 26, total="25.00", cj=_paid_at_cj("9.00", "7.10", quote="5.10",
                                                                order_id="2509231418372749103"))
        _order(s, us, 1005, 27, total="20.00", test=True)  # test orders are not money
        _order(s, us, 1006, 30, total="99.00")  # the next week
        _order(s, eu, 4821, 28, total="54.00", currency="EUR",
               cj=_paid_at_cj("20.00", "6.00", rate="1.08", order_id="2509231418372749104"))
        _order(s, eu, 4822, 29, total="10.00", currency="EUR", cj={"cj_order_id": "2509231418372749105"})
        s.commit()


def test_a_week_of_orders_with_margins_flags_and_totals(week, session_factory):
    """Issue 15 (1): nothing matched what CJ charged against what the store took in."""
    with session_factory() as s:
        report = reconcile(s, start=WEEK[0], end=WEEK[1])
    rows = {r["store_order_id"]: r for r in report.rows}
    assert sorted(rows) == ["1001", "1002", "1003", "1004", "4821", "4822"]  # not the test order, not next week
    assert rows["1001"]["cj_total_usd"] == Decimal("24.51") and rows["1001"]["margin"] == Decimal("36.96")
    assert rows["1001"]["flags"] == []
    assert rows["1002"]["flags"] == ["no_cj_order"]
    assert set(rows["1003"]["flags"]) == {"cancelled_but_paid", "refunded_in_store"}
    assert rows["1004"]["flags"] == ["amount_drift"]  # charged 7.10 postage on a 5.10 quote
    # EUR: 26.00 USD at 1.08 USD per EUR is 24.07 EUR; the margin is in the store's currency.
    assert rows["4821"]["margin"] == Decimal("29.93") and rows["4821"]["currency"] == "EUR"
    assert rows["4822"]["flags"] == ["cj_amounts_missing"] and rows["4822"]["margin"] is None
    totals = {(t["store"], t["currency"]): t for t in report.totals}
    us = totals[("us-shop.myshopify.com", "USD")]
    assert us["orders"] == 4 and us["revenue_total"] == Decimal("156.47") and us["flagged"] == 3
    assert totals[("ALL STORES", "EUR")]["revenue_total"] == Decimal("64.00")
    assert all(isinstance(t["margin"], Decimal) for t in report.totals)


def test_the_csv_opens_in_a_spreadsheet(week, session_factory):
    with session_factory() as s:
        text = as_csv(reconcile(s, start=WEEK[0], end=WEEK[1]))
    assert text.startswith("\ufeffstore,store_id,order,")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header, first = rows[0], rows[1]
    record = dict(zip(header, first))
    assert record["order_date"] == "2026-11-23" and record["revenue_total"] == "61.47"
    assert record["cj_paid_at"] == "2026-11-25T09:30:00Z" and record["margin"] == "36.96"
    assert ["totals", "currency", "orders", "revenue_total", "cj_total_usd", "margin", "flagged"] in rows


def test_the_admin_api_answers_json_and_csv_and_refuses_bad_periods(client, week):
    res = client.get("/admin/reconciliation?from=2026-11-23&to=2026-11-29", headers=admin_headers())
    assert res.status_code == 200 and len(res.get_json()["data"]["rows"]) == 6
    assert res.get_json()["data"]["rows"][0]["revenue_total"] == "61.47"  # money as strings, never floats
    csv_res = client.get("/admin/reconciliation?from=2026-11-23&to=2026-11-29&format=csv", headers=admin_headers())
    assert csv_res.mimetype == "text/csv" and csv_res.data.startswith("\ufeff".encode())
    assert "attachment" in csv_res.headers["Content-Disposition"]
    for query in ("from=2026-11-29&to=2026-11-23", "from=23.11.2026&to=2026-11-29", "to=2026-11-29",
                  "from=2025-01-01&to=2026-11-29", "from=2026-11-23&to=2026-11-29&format=xlsx"):
        bad = client.get(f"/admin/reconciliation?{query}", headers=admin_headers())
        assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "validation_error", query


def test_the_cli_writes_the_file(app, week, tmp_path):
    out = tmp_path / "week.csv"
    result = app.test_cli_runner().invoke(args=["reconcile", "--from", "2026-11-23", "--to", "2026-11-29",
                                                "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "6 order(s), 4 flagged" in result.output
    assert out.read_text(encoding="utf-8").startswith("\ufeffstore,")


@responses.activate
def test_the_weekly_job_keeps_each_ended_week_once_and_posts_its_summary(make_app, week, session_factory,
                                                                         monkeypatch):
    from service.pipeline import reconciliation
    from service.timeutil import utcnow as real_utcnow
    app = make_app(ALERT_WEBHOOK_URL="https://hooks.slack.example/services/T/B/x")
    runtime = app.extensions["cj_bridge"]
    slack = responses.add(responses.POST, "https://hooks.slack.example/services/T/B/x", body="ok")
    monkeypatch.setattr("service.timeutil.utcnow", lambda: datetime(2026, 12, 2, 8, 0))  # a Wednesday
    with session_factory() as s:
        assert reconciliation.write_weekly_report(s, runtime=runtime) == \
            "week 2026-11-23 written: 6 order(s), 4 flagged"
        assert reconciliation.write_weekly_report(s, runtime=runtime) == "week 2026-11-23 already written"
    text = json.loads(slack.calls[0].request.body)["text"]
    assert "2026-11-23 – 2026-11-29" in text and "us-shop.myshopify.com" in text and len(slack.calls) == 1
    client = app.test_client()
    (listed,) = client.get("/admin/reconciliation/reports", headers=admin_headers()).get_json()["data"]
    assert listed["from"] == "2026-11-23" and listed["summary"]["flagged"] == 4
    csv_res = client.get(listed["csv"], headers=admin_headers())
    assert csv_res.mimetype == "text/csv" and csv_res.data.startswith("\ufeff".encode())
    assert client.get("/admin/reconciliation/reports/999.csv", headers=admin_headers()).status_code == 404
    assert real_utcnow  # the real clock is restored by monkeypatch
