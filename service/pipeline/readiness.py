"""What /readyz and the admin page's health view check: database, migrations, queue, worker, stores, CJ."""
from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.pipeline.alerts import current_alerts
from service.pipeline.cj_budget import budget_status
from service.pipeline.cj_wallet import wallet_status
from service.pipeline.polling import webhook_health
from service.runtime import Runtime
from service.storage.migrate import current_revision, head_revision
from service.storage.models import Job, Store, WorkerHeartbeat
from service.storage.schema_state import MIGRATE_COMMAND
from service.timeutil import utcnow

MAX_HEARTBEAT_AGE_SECONDS = 120


def readiness(session: Session, *, runtime: Runtime) -> tuple[dict, list[str], list[str]]:
    """(checks, problems, warnings): ready when problems is empty; warnings need a look but do not stop orders."""
    checks: dict = {}
    problems: list[str] = []
    warnings: list[str] = []
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure here means "not ready"
        problems.append(f"database unreachable: {type(exc).__name__}")
        return checks, problems, warnings
    checks["database"] = "ok"
    current, head = current_revision(session.connection()), head_revision()
    checks["migrations"] = {"current": current, "head": head}
    if current != head:
        problems.append(f"migrations not current ({current} != {head}): run migrations (`{MIGRATE_COMMAND}`)")
        return checks, problems, warnings
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
    checks["alerts"] = [a.message for a in current_alerts(session, runtime=runtime)]
    wallet = wallet_status(session, runtime=runtime)
    checks["cj_wallet"] = wallet
    if wallet.get("warning"):
        warnings.append(wallet["warning"])
    budget = budget_status(session, runtime=runtime)
    checks["cj_budget"] = budget
    if budget.get("warning"):
        warnings.append(budget["warning"])
    if age is None:
        problems.append("no worker has reported a heartbeat: start the worker process")
    elif age > MAX_HEARTBEAT_AGE_SECONDS:
        problems.append(f"worker heartbeat is {int(age)} s old (limit {MAX_HEARTBEAT_AGE_SECONDS} s)")
    return checks, problems, warnings
