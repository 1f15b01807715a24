"""GET /metrics: Prometheus' text format (service/observability/metrics.py), for a scraper with the admin token."""
from __future__ import annotations

from flask import Blueprint

from service.observability.metrics import CONTENT_TYPE, render
from service.web.admin_token import has_admin_token
from service.web.context import db_session
from service.web.json_api import ApiError

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    # Order counts and the wallet are the merchant's business: Prometheus sends the token as a bearer.
    if not has_admin_token():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <ADMIN_TOKEN>")
    session = db_session()
    try:
        return render(session), 200, {"Content-Type": CONTENT_TYPE}
    finally:
        session.close()
