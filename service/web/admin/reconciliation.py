"""GET /admin/reconciliation?from=YYYY-MM-DD&to=YYYY-MM-DD&format=json|csv: store revenue against CJ's charges."""
from __future__ import annotations

from datetime import date

from flask import Response, request

from service.pipeline.reconciliation import as_csv, as_json, reconcile
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
        return Response(as_csv(report).encode("utf-8"), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="cj-bridge-reconciliation-{start}-{end}.csv"'})
    return ok(as_json(report))
