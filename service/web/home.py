"""GET /: what this service is and where to go next, for a person opening it in a browser or with curl."""
from __future__ import annotations

from html import escape

from flask import Blueprint, jsonify, request

bp = Blueprint("home", __name__)

ENDPOINTS = {
    "/admin/ui": "the admin page: orders, holds and their fixes, rules, stores, money (sign in with the admin token)",
    "/healthz": "the process is alive",
    "/readyz": "ready to take orders (details with the admin token)",
    "/admin/orders": "orders, holds and retries (Authorization: Bearer <ADMIN_TOKEN>)",
    "/admin/stores": "register and manage stores (admin token)",
    "/webhooks/<platform>": "where the stores deliver their webhooks (shopify, woocommerce, ebay, tiktok_shop)",
}
ABOUT = ("CJ Bridge forwards paid store orders (Shopify, WooCommerce, eBay, TikTok Shop) to CJ Dropshipping exactly "
         "once, writes tracking back to the store and keeps the stores' stock in step with CJ's. Open /admin/ui "
         "for the admin page; the README describes the admin API.")


@bp.get("/")
def home():
    if request.accept_mimetypes.accept_html and \
            request.accept_mimetypes["text/html"] > request.accept_mimetypes["application/json"]:
        rows = "".join(f"<li><code>{escape(path)}</code>: {escape(what)}</li>" for path, what in ENDPOINTS.items())
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>CJ Bridge</title></head><body>"
                f"<h1>CJ Bridge</h1><p>{escape(ABOUT)}</p><ul>{rows}</ul></body></html>")
        return page, 200, {"Content-Type": "text/html; charset=utf-8"}
    return jsonify({"success": True, "data": {"service": "CJ Bridge", "about": ABOUT, "endpoints": ENDPOINTS}})
