"""The inbound HTTP edge: one route per source, verify, dedupe, store-and-enqueue, answer fast."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

from webhooks import cj_route, rejections, store_routes  # noqa: E402,F401  (routes register on bp)
