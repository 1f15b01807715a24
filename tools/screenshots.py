"""Screenshots of the admin page for the README: the app on a throwaway SQLite file with demo orders, in chromium.

    .venv/bin/python tools/screenshots.py            # writes docs/screenshots/*.png

Needs Playwright (requirements-dev.txt) and Debian's chromium at /usr/bin/chromium. Nothing leaves the machine:
CJ runs in dry-run and no store is called.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import logging
import pathlib
import sys
import tempfile
import threading
from datetime import datetime, timedelta
from decimal import Decimal

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from service.app import create_app  # noqa: E402
from service.jobs.worker import drain  # noqa: E402
from service.storage.migrate import upgrade  # noqa: E402
from service.storage.models import Job, Order, WorkerHeartbeat  # noqa: E402
from service.timeutil import utcnow  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
TOKEN = "demo-admin-token"
SECRET = "demo-webhook-secret"
SHOP = "acme-gadgets-demo.myshopify.com"
WEEK_START = datetime(2026, 11, 23, 15)  # a Monday, 15:00 UTC
SAMPLE = json.loads((ROOT / "tests" / "fixtures" / "shopify_woocommerce_samples.json").read_text())


def _post_order(client, n: int, day: int, total: str) -> None:
    body = copy.deepcopy(SAMPLE["shopify_orders_create"]["body"])
    order_id = 7012345678000 + n
    at = (WEEK_START + timedelta(days=day, minutes=n)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    body.update(id=order_id, admin_graphql_api_id=f"gid://shopify/Order/{order_id}", name=f"#{1040 + n}",
                order_number=1040 + n, number=40 + n, created_at=at, updated_at=at, processed_at=at,
                total_price=total, current_total_price=total)
    raw = json.dumps(body, separators=(",", ":")).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    res = client.post("/webhooks/shopify", data=raw, headers={
        "Content-Type": "application/json", "X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": f"demo-{n}", "X-Shopify-Hmac-Sha256": signature})
    assert res.status_code == 200, res.get_data(as_text=True)


def demo_app(folder: pathlib.Path):
    url = f"sqlite:///{folder / 'demo.sqlite3'}"
    upgrade(url)
    app = create_app({"ENV": {"DATABASE_URL": url, "ADMIN_TOKEN": TOKEN, "SECRET_KEY": "demo-secret-key-" + "x" * 8,
                              "CJ_DRY_RUN": "true", "LOG_LEVEL": "WARNING",
                              "PUBLIC_BASE_URL": "https://bridge.example.com"}})
    runtime = app.extensions["cj_bridge"]
    runtime.cj._sleep = lambda _s: None
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    store = client.post("/admin/stores", headers=auth, json={
        "platform": "shopify", "shop_domain": SHOP, "name": "Acme Gadgets", "webhook_secret": SECRET,
        "api_credentials": {"client_id": "demo-client-id", "client_secret": SECRET}}).get_json()["data"]
    client.post("/admin/stores", headers=auth, json={
        "platform": "woocommerce", "site_url": "https://shop.example.com/", "name": "Example Woo Shop",
        "api_credentials": {"consumer_key": "ck_demo", "consumer_secret": "cs_demo"}})
    client.put("/admin/shipping-rules", headers=auth, json=[
        {"country_code": "*", "logistic_names": ["CJPacket Ordinary"]},
        {"country_code": "US", "logistic_names": ["CJPacket Ordinary", "USPS+"], "max_shipping_cost": "12.00"}])
    totals = ["61.47", "48.90", "112.30", "35.00", "74.25", "58.10", "91.60", "66.40", "29.99", "83.15", "47.50"]
    for n, total in enumerate(totals):
        _post_order(client, n, n % 7, total)
    drain(runtime, worker_id="demo")
    # The first few are mapped and go on; the last stays held for needs_mapping, to show fixing it in place.
    client.put("/admin/sku-mappings", headers=auth, json=[
        {"store_id": store["id"], "store_sku": "CJ-LED-STRIP-5M-RGB", "cj_vid": "2409150812345678900"}])
    with runtime.session_factory() as s:
        orders = s.scalars(select(Order).order_by(Order.id)).all()
        for i, order in enumerate(orders[:-1]):
            # What CJ would have answered, so that the money page has figures: demo data, not the pipeline's.
            states = ["fulfilled", "delivered", "shipped", "paid", "fulfilled", "fulfilled", "delivered",
                      "shipped", "fulfilled", "paid"]
            order.state, order.hold_reason, order.hold_detail = states[i % len(states)], None, None
            order.cj_order_id = f"27{i:02d}0312345678"
            order.cj_order_code = f"CJPKL{i:04d}7711"
            order.cj_product_amount = (order.total_price * Decimal("0.38")).quantize(Decimal("0.01"))
            order.cj_postage_amount = Decimal("6.80")
            order.cj_order_amount = order.cj_product_amount + order.cj_postage_amount
            order.cj_shipping_cost = Decimal("6.80")
            order.cj_pay_state, order.cj_paid_at = "paid", utcnow()
        s.add(WorkerHeartbeat(worker_id="demo-worker", hostname="demo", pid=1))  # as a running worker leaves
        s.execute(Job.__table__.update().where(Job.status == "queued").values(status="done", finished_at=utcnow()))
        s.add(Job(kind="write_back", payload={"order_id": orders[2].id}, status="dead", attempts=8, max_attempts=8,
                  last_error="StoreAuthFailed at adapters/shopify.py:412", finished_at=utcnow()))
        s.commit()
        held = orders[-1].id
    return app, held


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cjbridge-shots-") as folder:
        app, held = demo_app(pathlib.Path(folder))
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access line per request
        server = make_server("127.0.0.1", 0, app, threaded=False)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
                page = browser.new_page(viewport={"width": 1280, "height": 860}, base_url=base)
                page.goto("/admin/ui/sign-in")
                page.screenshot(path=str(OUT / "sign-in.png"))
                page.get_by_label("Admin token").fill(TOKEN)
                page.get_by_role("button", name="Sign in").click()
                shots = [("orders", "/admin/ui/"), ("held-order", f"/admin/ui/orders/{held}"),
                         ("stores", "/admin/ui/stores"), ("money", "/admin/ui/money?week=2026-W48"),
                         ("jobs", "/admin/ui/jobs"), ("health", "/admin/ui/health"),
                         ("shipping-rules", "/admin/ui/shipping-rules")]
                for name, path in shots:
                    page.goto(path)
                    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                page.set_viewport_size({"width": 390, "height": 844})
                page.goto(f"/admin/ui/orders/{held}")
                page.screenshot(path=str(OUT / "held-order-phone.png"))
                browser.close()
        finally:
            server.shutdown()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
