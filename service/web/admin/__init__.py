"""Admin API under /admin/: one blueprint, the bearer-token check, and a module per resource."""
from __future__ import annotations

from flask import Blueprint, request

from service.web.admin.inputs import MAX_ADMIN_BODY_BYTES
from service.web.admin_token import has_admin_token
from service.web.json_api import ApiError

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _require_token():
    if not has_admin_token():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <ADMIN_TOKEN>")
    if (request.content_length or 0) > MAX_ADMIN_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"admin request bodies are limited to {MAX_ADMIN_BODY_BYTES} bytes")


from service.web.admin import (alerts, cj_account, exchange_rates, jobs, openapi, orders, reconciliation,  # noqa: E402,F401
                               shipping_rules, sku_mappings, stock_writes, stores)  # (routes on bp)
