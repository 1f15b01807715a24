"""GET /admin/reconciliation?from=YYYY-MM-DD&to=YYYY-MM-DD&format=json|csv: store revenue against CJ's charges."""
from __future__ import annotations

from datetime import date

from flask import Response, request
from sqlalchemy import select

from service.pipeline.reconciliation import Reconciliation, as_csv, as_json, reconcile
from service.storage.models import ReconciliationReport
from service.timeutil import iso
from service.web.admin import bp
from service.web.context import db_session
from service.web.json_api import ApiError, ok

MAX_DAYS = 366


def period(start_text: str | None, end_text: str | None) -> tuple[date, date]:
    """The inclusive period asked for; a clear error for anything else."""
    try:
        start, end = date.fromisoformat(start_text or ""), date.fromisoformat(end_text or "")
    except ValueError:
        raise ApiError(400, "validation_error", "give from and to as dates, YYYY-MM-DD (to is included)",
                       {"from": start_text, "to": end_text}) from None
    if end < start:
        raise ApiError(400, "validation_error", "to is before from")
    if (end - start).days >= MAX_DAYS:
        raise ApiError(400, "validation_error", f"a period is at most {MAX_DAYS} days")
    return start, end


@bp.get("/reconciliation")
def reconciliation():
    start, end = period(request.args.get("from"), request.args.get("to"))
    form = request.args.get("format", "json")
    if form not in ("json", "csv"):
        raise ApiError(400, "validation_error", "format is json or csv")
    session = db_session()
    try:
        report = reconcile(session, start=start, end=end)
    finally:
        session.close()
    if form == "csv":
        return csv_download(report)
    return ok(as_json(report))


def csv_download(report: Reconciliation) -> Response:
    """The report as a CSV attachment (the admin API's format=csv and the admin page's download)."""
    return Response(as_csv(report).encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="cj-bridge-reconciliation-{report.start}-{report.end}.csv"'})


@bp.get("/reconciliation/reports")
def list_reports():
    """The weekly reports the worker kept, newest first (their CSV at …/reports/<id>.csv)."""
    session = db_session()
    try:
        reports = session.scalars(select(ReconciliationReport).order_by(ReconciliationReport.period_start.desc()))
        return ok([{"id": r.id, "from": r.period_start.isoformat(), "to": r.period_end.isoformat(),
                    "summary": r.summary, "csv": f"/admin/reconciliation/reports/{r.id}.csv",
                    "created_at": iso(r.created_at)} for r in reports])
    finally:
        session.close()


@bp.get("/reconciliation/reports/<int:report_id>.csv")
def report_csv(report_id: int):
    session = db_session()
    try:
        report = session.get(ReconciliationReport, report_id)
        if report is None:
            raise ApiError(404, "not_found", f"no reconciliation report {report_id}")
        return Response(report.csv_text.encode("utf-8"), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="cj-bridge-reconciliation-{report.period_start}-'
                                   f'{report.period_end}.csv"'})
    finally:
        session.close()
