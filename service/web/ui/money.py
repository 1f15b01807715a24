"""Admin page: the reconciliation of a chosen week (totals, a chart per day, flagged orders) and its CSV."""
from __future__ import annotations

from datetime import date, timedelta

from flask import render_template, request

from service.pipeline.reconciliation import last_full_week, reconcile
from service.timeutil import utcnow
from service.web.admin.reconciliation import csv_download
from service.web.context import db_session
from service.web.ui import bp
from service.web.ui.daily_chart import currencies, daily_figures, layout


def _week() -> tuple[date, date]:
    """Monday to Sunday of ?week=YYYY-Www (what <input type=week> sends); the last full week otherwise."""
    raw = request.args.get("week", "")
    try:
        year, week = raw.split("-W")
        if not 2000 <= int(year) <= 2999:  # a week of ours, and one whose neighbours exist (not year 1 or 9999)
            raise ValueError(year)
        start = date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        return last_full_week(utcnow().date())
    return start, start + timedelta(days=6)


def _week_value(start: date) -> str:
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


@bp.get("/money")
def money():
    start, end = _week()
    session = db_session()
    try:
        report = reconcile(session, start=start, end=end)
    finally:
        session.close()
    found = currencies(report)
    currency = request.args.get("currency") if request.args.get("currency") in found else (found or [None])[0]
    figures = daily_figures(report, currency) if currency else []
    return render_template("ui/money.html", report=report, week=_week_value(start), start=start, end=end,
                           currencies=found, currency=currency, figures=figures,
                           chart=layout(figures) if figures else None,
                           previous_week=_week_value(start - timedelta(days=7)),
                           next_week=_week_value(start + timedelta(days=7)),
                           flagged=[r for r in report.rows if r["flags"]])


@bp.get("/money.csv")
def money_csv():
    start, end = _week()
    session = db_session()
    try:
        return csv_download(reconcile(session, start=start, end=end))
    finally:
        session.close()
