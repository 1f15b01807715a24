"""The money page's chart: revenue, CJ cost and margin per day for one currency, laid out as SVG coordinates.

Revenue counts every order of the day, as the CSV's totals do; CJ cost and margin only the orders whose CJ amounts
and exchange rate are known. How many are not yet is counted per day, so that the page can say so.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from service.pipeline.reconciliation import Reconciliation

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40  # room for the value axis and the day labels


@dataclass
class Day:
    day: date
    revenue: Decimal = Decimal(0)
    cj_cost: Decimal = Decimal(0)  # CJ's charge in the store currency (through the order's USD rate)
    margin: Decimal = Decimal(0)
    orders: int = 0
    without_cj_cost: int = 0  # orders in revenue only: CJ's amounts (or the rate) not known yet


def currencies(report: Reconciliation) -> list[str]:
    """The store currencies of the period, the most used first."""
    counts = Counter(row["currency"] for row in report.rows if row["store_id"] is not None and row["currency"])
    return [c for c, _ in counts.most_common()]


def daily_figures(report: Reconciliation, currency: str) -> list[Day]:
    days = {report.start + timedelta(days=i): Day(report.start + timedelta(days=i))
            for i in range((report.end - report.start).days + 1)}
    for row in report.rows:
        if row["store_id"] is None or row["currency"] != currency:
            continue
        day = days.get(date.fromisoformat(row["order_date"]))
        if day is None:
            continue
        day.orders += 1
        day.revenue += row["revenue_total"] or 0
        if row["cj_total_usd"] is not None and row["usd_per_unit"]:
            day.cj_cost += (row["cj_total_usd"] / row["usd_per_unit"]).quantize(Decimal("0.01"))
        else:
            day.without_cj_cost += 1
        day.margin += row["margin"] or 0
    return list(days.values())


def layout(days: list[Day]) -> dict:
    """Bars (revenue, CJ cost) per day and a margin line, in the SVG's coordinates; with axis ticks."""
    values = [v for d in days for v in (d.revenue, d.cj_cost, d.margin)]
    top, bottom = max([Decimal(0), *values]), min([Decimal(0), *values])
    top = _nice(top) if top > 0 else Decimal(1)
    bottom = -_nice(-bottom) if bottom < 0 else Decimal(0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(value) -> float:
        return round(TOP + float((top - Decimal(value)) / (top - bottom)) * plot_h, 1)

    slot = plot_w / max(1, len(days))
    bar = max(2.0, min(28.0, slot * 0.3))
    zero = y(0)
    out_days = []
    for i, d in enumerate(days):
        centre = LEFT + slot * (i + 0.5)
        out_days.append({
            "label": d.day.strftime("%a %d"), "x": round(centre, 1), "figures": d,
            "revenue": _bar(centre - bar, bar, y(d.revenue), zero),
            "cj_cost": _bar(centre, bar, y(d.cj_cost), zero), "margin_y": y(d.margin)})
    ticks = [{"y": y(bottom + (top - bottom) * k / 4), "label": f"{bottom + (top - bottom) * k / 4:,.0f}"}
             for k in range(5)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "zero": zero,
            "days": out_days, "ticks": ticks, "label_y": HEIGHT - BOTTOM + 18, "note_y": HEIGHT - BOTTOM + 33,
            "without_cj_cost": sum(d.without_cj_cost for d in days),
            "margin_points": " ".join(f"{d['x']},{d['margin_y']}" for d in out_days)}


def _bar(x: float, width: float, value_y: float, zero: float) -> dict:
    return {"x": round(x, 1), "y": min(value_y, zero), "width": round(width, 1), "height": abs(zero - value_y)}


def _nice(value: Decimal) -> Decimal:
    """A round upper bound (1, 2, 2.5 or 5 times a power of ten) at or above value."""
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if value <= magnitude * step:
            return magnitude * step
    return magnitude * 10
