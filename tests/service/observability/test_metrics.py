"""/metrics: delivery counters from every gunicorn process, and the worker's work read from the database."""
from __future__ import annotations

import glob
import os
import pathlib
import re
import subprocess
import sys

import requests
import responses

from tests.conftest import SHOP_DOMAIN, SHOPIFY_SECRET, admin_headers, post_shopify, run_jobs, shopify_order
from tests.fakes import FakeCj
from tests.pipeline.test_full_path import setup_catalog

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _value(text: str, name: str, **labels) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@responses.activate
def test_metrics_count_deliveries_and_read_the_workers_work_from_the_database(client, shopify_store, runtime):
    """Issue 15 (4): there was no /metrics."""
    assert client.get("/metrics").status_code == 401
    before = client.get("/metrics", headers=admin_headers()).get_data(as_text=True)
    FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    body = shopify_order()
    post_shopify(client, body)
    post_shopify(client, body)  # duplicate
    post_shopify(client, body, secret="wrong-secret")  # refused
    run_jobs(runtime)
    res = client.get("/metrics", headers=admin_headers())
    assert res.status_code == 200 and res.mimetype == "text/plain"
    text = res.get_data(as_text=True)
    delta = {outcome: _value(text, "cjbridge_webhook_deliveries_total", platform="shopify", outcome=outcome)
             - _value(before, "cjbridge_webhook_deliveries_total", platform="shopify", outcome=outcome)
             for outcome in ("accepted", "duplicate", "unverified")}
    assert delta == {"accepted": 1, "duplicate": 1, "unverified": 1}
    assert _value(text, "cjbridge_jobs", kind="forward_order", status="done") == 1
    assert _value(text, "cjbridge_orders", state="paid") == 1
    assert _value(text, "cjbridge_cj_calls", operation="createOrderV2", outcome="ok") == 1
    assert "cjbridge_queue_due_jobs" in text and "cjbridge_write_back_seconds_gcount" in text


def test_a_scrape_adds_up_every_web_process(tmp_path):
    """Two gunicorn processes answer deliveries; whichever answers the scrape counts both."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CJ_", "DATABASE_URL", "TEST_DATABASE"))}
    env.update({"CJ_BRIDGE_INSTANCE_PATH": str(tmp_path), "WEB_CONCURRENCY": "2", "PORT": "0",
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "ADMIN_TOKEN": "metrics-test-token",
                "PUBLIC_BASE_URL": "https://bridge.example.com", "LOG_LEVEL": "WARNING"})
    subprocess.run([sys.executable, "-m", "flask", "--app", "service.wsgi", "db-upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=120)
    log = open(tmp_path / "web.log", "wb")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "service/gunicorn_conf.py",
                            "service.wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = _bound_address(tmp_path / "web.log")
        headers = {"Authorization": "Bearer metrics-test-token"}
        res = requests.post(f"{base}/admin/stores", headers=headers, timeout=10, json={
            "platform": "shopify", "shop_domain": SHOP_DOMAIN, "webhook_secret": SHOPIFY_SECRET})
        assert res.status_code == 201, res.text
        from tests.fault.harness import make_orders, signed
        sent = 0
        for body in make_orders(400):  # until both processes have answered some
            raw, hdrs = signed(body, "orders/paid")
            assert requests.post(f"{base}/webhooks/shopify", data=raw, headers={**hdrs, "Connection": "close"},
                                 timeout=10).status_code == 200
            sent += 1
            if sent >= 10 and len(glob.glob(str(metrics_dir / "counter_*.db"))) >= 2:
                break
        assert len(glob.glob(str(metrics_dir / "counter_*.db"))) >= 2, "one process answered everything"
        text = requests.get(f"{base}/metrics", headers={**headers, "Connection": "close"}, timeout=10).text
        assert _value(text, "cjbridge_webhook_deliveries_total", platform="shopify", outcome="accepted") == sent
    finally:
        web.terminate()
        web.wait(timeout=30)


def _bound_address(log_path: pathlib.Path) -> str:
    import time
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"web:\s+(http://127\.0\.0\.1:\d+)", log_path.read_text(errors="replace"))
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(log_path.read_text(errors="replace")[-2000:])
