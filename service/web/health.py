"""/healthz (process alive) and /readyz (database, migrations, queue, worker heartbeat; details for the admin)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import func, select, text

from service.storage.migrate import current_revision, head_revision
from service.storage.schema_state import MIGRATE_COMMAND
from service.storage.models import Job, Store, WorkerHeartbeat
from service.pipeline.polling import webhook_health
from service.timeutil import utcnow
from service.pipeline.cj_budget import budget_status
from service.pipeline.alerts import current_alerts
from service.pipeline.cj_wallet import wallet_status
from service.web.admin_token import has_admin_token
from service.web.context import db_session, runtime

bp = Blueprint("health", __name__)

MAX_HEARTBEAT_AGE_SECONDS = 120


@bp.get("/healthz")
def healthz():
    return jsonify({"success": True, "data": {"status": "ok"}})


@bp.get("/readyz")
def readyz():
    checks: dict = {}
    problems: list[str] = []
    warnings: list[str] = []
    session = db_session()
    try:
        try:
            session.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure here means "not ready"
            problems.append(f"database unreachable: {type(exc).__name__}")
            return _answer(checks, problems, warnings)
        checks["database"] = "ok"
        current, head = current_revision(session.connection()), head_revision()
        checks["migrations"] = {"current": current, "head": head}
        if current != head:
            problems.append(f"migrations not current ({current} != {head}): run migrations (`{MIGRATE_COMMAND}`)")
            return _answer(checks, problems, warnings)
        now = utcnow()
        depth, oldest = session.execute(select(func.count(Job.id), func.min(Job.run_at)).where(
            Job.status == "queued", Job.run_at <= now)).one()
        checks["queue"] = {"due_jobs": depth,
                           "oldest_due_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
                           "dead_jobs": session.scalar(select(func.count(Job.id)).where(Job.status == "dead"))}
        last_beat = session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
        age = (now - last_beat).total_seconds() if last_beat else None
        checks["worker"] = {"last_heartbeat_age_seconds": round(age, 1) if age is not None else None}
        disabled = [s.id for s in session.scalars(select(Store).where(Store.active.is_(True)))
                    if webhook_health(s)["webhooks_look_disabled"]]
        checks["stores_with_missed_webhooks"] = disabled
        unpolled = [s.id for s in session.scalars(select(Store).where(Store.active.is_(True)))
                    if webhook_health(s)["poll_needs_attention"]]
        checks["stores_whose_poll_needs_attention"] = unpolled
        if unpolled:
            warnings.append(f"store(s) {unpolled} could not be polled and need attention: GET /admin/stores/<id> "
                            "shows why (webhook_health.last_poll_result)")
        if disabled:
            # Not a readiness failure (polling covers it), but someone should re-enable those webhooks.
            warnings.append(f"polling found orders that no webhook brought for store(s) {disabled}: check their "
                            "webhooks (POST /admin/stores/<id>/webhooks re-creates or re-activates them)")
        checks["alerts"] = [a.message for a in current_alerts(session, runtime=runtime())]
        wallet = wallet_status(session, runtime=runtime())
        checks["cj_wallet"] = wallet
        if wallet.get("warning"):
            warnings.append(wallet["warning"])
        budget = budget_status(session, runtime=runtime())
        checks["cj_budget"] = budget
        if budget.get("warning"):
            warnings.append(budget["warning"])
        if age is None:
            problems.append("no worker has reported a heartbeat: start the worker process")
        elif age > MAX_HEARTBEAT_AGE_SECONDS:
            problems.append(f"worker heartbeat is {int(age)} s old (limit {MAX_HEARTBEAT_AGE_SECONDS} s)")
    finally:
        session.close()
    return _answer(checks, problems, warnings)


def _answer(checks: dict, problems: list[str], warnings: list[str]):
    """Ready or not for anyone (a load balancer); what was checked only with the admin token."""
    ready = not problems
    if not has_admin_token():
        body = {"success": ready, "data": {"ready": ready}}
        if not ready:
            body["error"] = {"code": "not_ready", "message": "not ready; the details need the admin token"}
        return jsonify(body), 200 if ready else 503
    body = {"success": ready, "data": {"ready": ready, "checks": checks, "problems": problems,
                                       "warnings": warnings}}
    if not ready:
        body["error"] = {"code": "not_ready", "message": "; ".join(problems)}
    return jsonify(body), 200 if ready else 503
