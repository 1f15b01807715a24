"""Test fixtures: one migrated database per run (SQLite, or PostgreSQL via TEST_DATABASE_URL)."""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import pathlib
import tempfile

import pytest
import sqlalchemy as sa

from service.app import create_app
from service.config import normalize_database_url
from service.storage.database import make_engine, make_session_factory
from service.storage.migrate import upgrade
from service.storage.models import Base
from service.jobs.worker import drain

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
SHOPIFY_SECRET = "test-client-secret-NOT-REAL"
CJ_OPEN_ID = "1048576"
CJ_BASE = "https://cj.test/api2.0/v1"
SHOP_DOMAIN = "acme-gadgets-demo.myshopify.com"
ADMIN_TOKEN = "test-admin-token"
TEST_SECRET_KEY = "test-secret-key-0123456789"


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


SHOPIFY_SAMPLES = load_fixture("shopify_woocommerce_samples.json")
CJ_SAMPLES = load_fixture("cj_samples.json")


def _database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return normalize_database_url(url)
    path = os.path.join(tempfile.mkdtemp(prefix="cjbridge-test-"), "test.sqlite3")
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def database_url() -> str:
    url = _database_url()
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def clean_database(engine):
    """Every test starts from empty tables (schema kept, CJ account row reset)."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(sa.text(f"DELETE FROM {name}"))
        conn.execute(sa.text("INSERT INTO cj_account_state (id, next_request_at) VALUES (1, 0)"))
    yield


@pytest.fixture
def session_factory(engine):
    return make_session_factory(engine)


@pytest.fixture
def base_env(database_url) -> dict:
    return {"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET_KEY, "ADMIN_TOKEN": ADMIN_TOKEN,
            "CJ_API_KEY": "CJ1234567@api@0f1e2d3c4b5a69788796a5b4c3d2e1f0", "CJ_DRY_RUN": "false",
            "CJ_API_BASE_URL": CJ_BASE, "CJ_QPS": "1000", "CJ_AUTO_PAY": "true",
            "LOG_LEVEL": "WARNING", "PUBLIC_BASE_URL": "https://bridge.example.com"}


@pytest.fixture
def make_app(base_env, session_factory):
    def factory(**env_overrides):
        env = dict(base_env)
        env.update({k: v for k, v in env_overrides.items() if v is not None})
        for k in [k for k, v in env_overrides.items() if v is None]:
            env.pop(k, None)
        return create_app({"TESTING": True, "ENV": env, "SESSION_FACTORY": session_factory})
    return factory


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runtime(app):
    rt = app.extensions["cj_bridge"]
    rt.cj._sleep = lambda _s: None  # the throttle is tested on its own; here it must not slow tests
    return rt


def admin_headers() -> dict:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def sign(secret: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def compact(body) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.fixture
def shopify_store(client) -> dict:
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "shopify", "shop_domain": SHOP_DOMAIN, "webhook_secret": SHOPIFY_SECRET,
        "api_credentials": {"access_token": "shpat_EXAMPLE_NOT_REAL"}})
    assert res.status_code == 201, res.get_json()
    return res.get_json()["data"]


def shopify_order(**changes) -> dict:
    body = copy.deepcopy(SHOPIFY_SAMPLES["shopify_orders_create"]["body"])
    body.update(changes)
    return body


def post_shopify(client, body, *, topic="orders/create", webhook_id=None, event_id=None, secret=SHOPIFY_SECRET,
                 raw: bytes | None = None, headers: dict | None = None, environ: dict | None = None):
    raw = compact(body) if raw is None else raw
    h = {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": SHOP_DOMAIN,
         "X-Shopify-API-Version": "2026-10",
         "X-Shopify-Webhook-Id": webhook_id or hashlib.md5(raw + topic.encode()).hexdigest(),
         "X-Shopify-Hmac-Sha256": sign(secret, raw)}
    if event_id:
        h["X-Shopify-Event-Id"] = event_id
    h.update(headers or {})
    return client.post("/webhooks/shopify", data=raw, headers={k: v for k, v in h.items() if v is not None},
                       environ_overrides=environ)


def cj_webhook_path(secret_key: str = TEST_SECRET_KEY) -> str:
    from service.cj.webhook_address import path_secret
    return f"/webhooks/cj/{path_secret(secret_key)}"


def post_cj(client, message: dict | None = None, *, raw: bytes | None = None, open_id: str = CJ_OPEN_ID,
            path: str | None = None):
    """A CJ message, signed as CJ signs (the signature is not relied on), to the deployment's secret path."""
    raw = compact(message) if raw is None else raw
    return client.post(path or cj_webhook_path(), data=raw, headers={"Content-Type": "application/json",
                                                                      "sign": sign(open_id, raw)})


def run_jobs(runtime) -> int:
    return drain(runtime, worker_id="test-worker")


def the_order(session_factory):
    """The one order a test created."""
    from sqlalchemy import select
    from service.storage.models import Order
    with session_factory() as s:
        return s.scalars(select(Order)).one()


@pytest.fixture
def app_with_store(make_app):
    """Factory: an app built with env overrides, its client and runtime, and a registered Shopify store."""
    def factory(**env_overrides):
        app = make_app(**env_overrides)
        client = app.test_client()
        runtime = app.extensions["cj_bridge"]
        runtime.cj._sleep = lambda _s: None
        res = client.post("/admin/stores", headers=admin_headers(), json={
            "platform": "shopify", "shop_domain": SHOP_DOMAIN, "webhook_secret": SHOPIFY_SECRET,
            "api_credentials": {"access_token": "shpat_EXAMPLE_NOT_REAL"}})
        assert res.status_code == 201, res.get_json()
        return client, runtime, res.get_json()["data"]
    return factory


WOO_SECRET = "test-webhook-secret-NOT-REAL"
WOO_SOURCE = "https://shop.example.com/"


@pytest.fixture
def woo_store(client) -> dict:
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "woocommerce", "site_url": WOO_SOURCE, "webhook_secret": WOO_SECRET,
        "api_credentials": {"consumer_key": "ck_test", "consumer_secret": "cs_test"}})
    assert res.status_code == 201, res.get_json()
    return res.get_json()["data"]


def woo_order(**changes) -> dict:
    body = copy.deepcopy(SHOPIFY_SAMPLES["woocommerce_order_created"]["body"])
    body.update(changes)
    return body


def post_woo(client, body=None, *, topic="order.created", raw: bytes | None = None, secret=WOO_SECRET,
             headers: dict | None = None):
    raw = compact(body) if raw is None else raw
    h = {"Content-Type": "application/json", "X-WC-Webhook-Source": WOO_SOURCE, "X-WC-Webhook-Topic": topic,
         "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": topic.split(".")[-1], "X-WC-Webhook-ID": "12",
         "X-WC-Webhook-Delivery-ID": hashlib.md5(os.urandom(8)).hexdigest(),
         "X-WC-Webhook-Signature": sign(secret, raw)}
    h.update(headers or {})
    return client.post("/webhooks/woocommerce", data=raw, headers={k: v for k, v in h.items() if v is not None})
