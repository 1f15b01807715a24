"""GET /admin/stock-writes: the store writes stock sync recorded instead of sending them (STOCK_SYNC=dry_run)."""
from __future__ import annotations

from sqlalchemy import select

from service.storage.models import ExternalCall
from service.timeutil import iso
from service.web.admin import bp
from service.web.admin.inputs import int_arg
from service.web.context import db_session
from service.web.json_api import ok


@bp.get("/stock-writes")
def list_stock_writes():
    """Newest first; each with the store, the items (mapping, quantity, price, why) and the outcome."""
    store_id = int_arg("store_id")
    limit = int_arg("limit", 50, 500, minimum=1)
    session = db_session()
    try:
        calls = session.scalars(select(ExternalCall).where(ExternalCall.operation == "setStock")
                                .order_by(ExternalCall.id.desc()).limit(limit * 5 if store_id else limit))
        rows = [{"id": c.id, "platform": c.service, "outcome": c.outcome, "at": iso(c.at), **(c.request or {})}
                for c in calls if store_id is None or (c.request or {}).get("store_id") == store_id]
        return ok(rows[:limit])
    finally:
        session.close()
