"""The money page's chart layout: figures per day in one currency, bars and the margin line inside the plot."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from service.pipeline.reconciliation import Reconciliation, _totals
from service.web.ui.daily_chart import HEIGHT, currencies, daily_figures, layout


def _row(day: str, currency: str, revenue, cj_usd, rate, margin, store_id=1) -> dict:
    return {"store": "s", "store_id": store_id, "currency": currency, "order_date": day, "revenue_total": revenue,
            "cj_total_usd": cj_usd, "usd_per_unit": rate, "margin": margin, "flags": []}


def test_figures_per_day_in_the_store_currency():
    report = Reconciliation(start=date(2026, 11, 23), end=date(2026, 11, 29), rows=[
        _row("2026-11-23", "EUR", Decimal("50"), Decimal("21.60"), Decimal("1.08"), Decimal("30.00")),
        _row("2026-11-23", "EUR", Decimal("10"), None, Decimal("1.08"), None),
        _row("2026-11-25", "USD", Decimal("99"), Decimal("40"), Decimal("1"), Decimal("59")),
        _row("2026-11-24", "", None, Decimal("5"), None, None, store_id=None),  # a CJ order with no store order
    ])
    assert currencies(report) == ["EUR", "USD"]
    days = daily_figures(report, "EUR")
    assert len(days) == 7
    assert (days[0].orders, days[0].revenue, days[0].cj_cost, days[0].margin) == (2, 60, Decimal("20.00"), 30)
    assert all(d.orders == 0 for d in days[1:])


def test_orders_without_cj_amounts_are_counted_per_day_and_revenue_matches_the_csv_totals():
    rows = [
        _row("2026-11-23", "EUR", Decimal("50"), Decimal("21.60"), Decimal("1.08"), Decimal("30.00")),
        _row("2026-11-23", "EUR", Decimal("10"), None, Decimal("1.08"), None),  # not at CJ yet
        _row("2026-11-24", "EUR", Decimal("40"), Decimal("10"), None, None),  # CJ answered, no exchange rate
        _row("2026-11-25", "EUR", Decimal("20"), Decimal("5.40"), Decimal("1.08"), Decimal("15.00"))]
    report = Reconciliation(start=date(2026, 11, 23), end=date(2026, 11, 29), rows=rows, totals=_totals(rows))
    days = daily_figures(report, "EUR")
    assert [d.without_cj_cost for d in days[:3]] == [1, 1, 0]
    assert layout(days)["without_cj_cost"] == 2
    overall = next(t for t in report.totals if t["store"] == "ALL STORES" and t["currency"] == "EUR")
    assert sum(d.revenue for d in days) == overall["revenue_total"]  # every order, as the CSV counts it
    assert sum(d.margin for d in days) == overall["margin"]


def test_a_loss_goes_below_the_zero_line_and_everything_stays_in_the_box():
    report = Reconciliation(start=date(2026, 11, 23), end=date(2026, 11, 24), rows=[
        _row("2026-11-23", "USD", Decimal("20"), Decimal("35"), Decimal("1"), Decimal("-15")),
        _row("2026-11-24", "USD", Decimal("180"), Decimal("60"), Decimal("1"), Decimal("120"))])
    chart = layout(daily_figures(report, "USD"))
    loss, gain = chart["days"]
    assert loss["margin_y"] > chart["zero"] > gain["margin_y"]
    for day in chart["days"]:
        for bar in (day["revenue"], day["cj_cost"]):
            assert 0 <= bar["y"] and bar["y"] + bar["height"] <= HEIGHT
    assert [t["label"] for t in chart["ticks"]][0] == "-20" and chart["ticks"][-1]["label"] == "200"


def test_an_empty_week_still_draws_its_days():
    chart = layout(daily_figures(Reconciliation(start=date(2026, 11, 23), end=date(2026, 11, 29)), "USD"))
    assert len(chart["days"]) == 7 and all(d["revenue"]["height"] == 0 for d in chart["days"])
