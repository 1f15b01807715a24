"""Admin API under /admin/: one blueprint, the bearer-token check, and a module per resource."""
from __future__ import annotations

import hmac

from flask import Blueprint, request

from service.web.context import settings
from service.web.json_api import ApiError

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _require_token():
    expected = settings().admin_token
    header = request.headers.get("Authorization", "")
    presented = header[7:].strip() if header.startswith("Bearer ") else ""
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <ADMIN_TOKEN>")


from service.web.admin import cj_account, exchange_rates, jobs, orders, shipping_rules, sku_mappings, stores  # noqa: E402,F401  (routes on bp)
