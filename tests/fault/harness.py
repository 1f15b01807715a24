"""Runs the real service (gunicorn web + worker processes) against fake CJ/Shopify servers."""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import requests

from tests.conftest import SHOPIFY_SAMPLES, SHOP_DOMAIN, SHOPIFY_SECRET
from tests.fault.fake_servers import FakeCjServer, FakeShopifyServer

ROOT = pathlib.Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Bearer fault-admin-token"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def queue_snapshot(session_factory) -> str:
    """The orders' states and the jobs' statuses, for a failure message: what was stuck, and why."""
    import sqlalchemy as sa
    from service.storage.models import Job, Order
    with session_factory() as s:
        orders = s.execute(sa.select(Order.state, Order.hold_reason, sa.func.count()).group_by(
            Order.state, Order.hold_reason)).all()
        jobs = s.execute(sa.select(Job.kind, Job.status, Job.attempts, Job.last_error).where(
            Job.status != "done").order_by(Job.id).limit(30)).all()
    return f"orders {[tuple(r) for r in orders]}; unfinished jobs {[tuple(r) for r in jobs]}"


def make_orders(n: int, *, start: int = 1) -> list[dict]:
    """n distinct paid orders in the shape of the Shopify sample."""
    template = SHOPIFY_SAMPLES["shopify_orders_create"]["body"]
    orders = []
    for i in range(start, start + n):
        body = copy.deepcopy(template)
        oid = 8_000_000_000_000 + i
        body.update(id=oid, admin_graphql_api_id=f"gid://shopify/Order/{oid}", name=f"#F{i}", order_number=i)
        for j, line in enumerate(body["line_items"]):
            lid = oid * 10 + j
            line.update(id=lid, admin_graphql_api_id=f"gid://shopify/LineItem/{lid}")
        orders.append(body)
    return orders


def signed(body: dict, topic: str, *, webhook_id: str | None = None, updated_at: str | None = None):
    body = dict(body)
    if updated_at:
        body["updated_at"] = updated_at
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": SHOP_DOMAIN,
               "X-Shopify-Webhook-Id": webhook_id or hashlib.sha1(raw + topic.encode()).hexdigest(),
               "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), raw,
                                                                  hashlib.sha256).digest()).decode()}
    return raw, headers


class Service:
    """gunicorn as the Procfile runs it, plus any number of worker processes, on one database."""

    def __init__(self, database_url: str, cj: FakeCjServer, cj_url: str, *, qps: float, extra_env=None,
                 log_dir: pathlib.Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "fault-secret-key-0123456789",
                    "ADMIN_TOKEN": "fault-admin-token", "CJ_API_KEY": cj.API_KEY, "CJ_DRY_RUN": "false",
                    "CJ_API_BASE_URL": f"{cj_url}/api2.0/v1", "CJ_QPS": str(qps), "CJ_AUTO_PAY": "true",
                    "JOB_LEASE_SECONDS": "3", "WORKER_POLL_SECONDS": "0.05",
                    "JOB_BACKOFF_SECONDS": "0.5",
                    "HTTP_TIMEOUT": "1", "LOG_LEVEL": "WARNING", "PORT": str(self.port),
                    "PUBLIC_BASE_URL": self.base, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}-{time.monotonic_ns()}.log", "wb")
        return subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start_web(self):
        self.web = self._spawn([sys.executable, "-m", "gunicorn", "--config", "service/gunicorn_conf.py",
                                "service.wsgi:app"], "web")
        wait_until(self._healthy, timeout=30, what="gunicorn to answer /healthz")

    def _healthy(self):
        try:
            return requests.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def start_worker(self) -> subprocess.Popen:
        worker = self._spawn([sys.executable, "-m", "service.jobs.worker"], "worker")
        self.workers.append(worker)
        return worker

    def kill(self, proc: subprocess.Popen, sig=signal.SIGKILL):
        if proc.poll() is None:
            proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop(self):
        for proc in self.workers + ([self.web] if self.web else []):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.workers + ([self.web] if self.web else []):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def admin(self, method: str, path: str, **kw):
        res = requests.request(method, f"{self.base}/admin{path}", headers=ADMIN, timeout=10, **kw)
        assert res.status_code < 300, (res.status_code, res.text)
        return res.json()["data"]

    def setup_store(self, shopify_url: str) -> int:
        store = self.admin("POST", "/stores", json={
            "platform": "shopify", "shop_domain": SHOP_DOMAIN, "webhook_secret": SHOPIFY_SECRET,
            "api_credentials": {"access_token": FakeShopifyServer.TOKEN}, "api_base_url": shopify_url})
        self.admin("PUT", "/sku-mappings", json=[
            {"store_id": store["id"], "store_sku": "CJ-LED-STRIP-5M-RGB", "cj_vid": "2409150812345678900"},
            {"store_id": store["id"], "store_variant_id": "50011223344502", "cj_vid": "2409150812345678911"}])
        self.admin("PUT", "/shipping-rules", json={"country_code": "*", "logistic_names": ["CJPacket Ordinary"]})
        return store["id"]

    @property
    def cj_webhook_path(self) -> str:
        from service.cj.webhook_address import path_secret
        return f"/webhooks/cj/{path_secret(self.env['SECRET_KEY'])}"

    def deliver(self, raw: bytes, headers: dict, path="/webhooks/shopify") -> int:
        return requests.post(f"{self.base}{path}", data=raw, headers=headers, timeout=10).status_code
