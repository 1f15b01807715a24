"""/healthz (process alive) and /readyz (database, migrations, queue, worker heartbeat; details for the admin)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from service.pipeline.readiness import readiness
from service.web.admin_token import has_admin_token
from service.web.context import db_session, runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"success": True, "data": {"status": "ok"}})


@bp.get("/readyz")
def readyz():
    session = db_session()
    try:
        checks, problems, warnings = readiness(session, runtime=runtime())
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
