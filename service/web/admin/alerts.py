"""GET /admin/alerts: what needs the merchant now, with since when and whether it was sent."""
from __future__ import annotations

from service.pipeline.alerts import alerts_view
from service.web.admin import bp
from service.web.context import db_session, runtime
from service.web.json_api import ok


@bp.get("/alerts")
def list_alerts():
    session = db_session()
    try:
        return ok(alerts_view(session, runtime=runtime()))
    finally:
        session.close()
