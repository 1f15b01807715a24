"""Admin page: health (queue depth, worker heartbeat, CJ balance and points budget, alerts, warnings)."""
from __future__ import annotations

from flask import render_template

from service.pipeline.alerts import alerts_view
from service.pipeline.readiness import MAX_HEARTBEAT_AGE_SECONDS, readiness
from service.web.context import db_session, runtime
from service.web.ui import bp


@bp.get("/health")
def health():
    session = db_session()
    try:
        checks, problems, warnings = readiness(session, runtime=runtime())
        alerts = alerts_view(session, runtime=runtime()) if checks.get("queue") else []
        return render_template("ui/health.html", checks=checks, problems=problems, warnings=warnings,
                               alerts=alerts, heartbeat_limit=MAX_HEARTBEAT_AGE_SECONDS)
    finally:
        session.close()
