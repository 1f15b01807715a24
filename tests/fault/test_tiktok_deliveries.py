"""TikTok Shop in the real processes: every notification sent three times, shuffled, to gunicorn, while two
workers read the orders with signed calls; a worker killed on the way loses and doubles nothing."""
from __future__ import annotations

import copy
import json
import os
import random
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from adapters.tiktok_signing import webhook_signature
from service.storage.models import Order, WebhookEvent
from tests.conftest import load_fixture
from tests.fault.fake_servers import FakeTikTokServer, ServerThread
from tests.fault.harness import Service, queue_snapshot, wait_until

SAMPLES = load_fixture("tiktok_samples.json")
APP_KEY, APP_SECRET = "6test0appkey0abc", "testsecret0000000000000000000000NOTREAL"
SHOP = "7495123456789012345"
ORDERS = 12


def _orders() -> dict[str, dict]:
    base = SAMPLES["tiktok_get_order_detail_response"]["data"]["orders"][0]
    out = {}
    for n in range(ORDERS):
        order = copy.deepcopy(base)
        order["id"] = f"5771234567890{n:05d}"
        for i, item in enumerate(order["line_items"]):
            item["id"] = f"{order['id']}{i}"
        out[order["id"]] = order
    return out


@pytest.fixture
def fake_tiktok():
    tiktok = FakeTikTokServer(app_key=APP_KEY, app_secret=APP_SECRET, orders=_orders())
    with ServerThread(tiktok.app) as server:
        tiktok.url = server.url
        yield tiktok


def _notifications(orders: dict[str, dict]) -> list[bytes]:
    template = SAMPLES["tiktok_order_status_change_webhook"]["body"]
    out = []
    for n, (order_id, order) in enumerate(orders.items()):
        body = dict(template, tts_notification_id=f"74419283746501{n:05d}",
                    data=dict(template["data"], order_id=order_id, update_time=order["update_time"]))
        out.append(json.dumps(body, separators=(",", ":")).encode())
    return out


def test_notifications_three_times_shuffled_make_one_cj_order_each(database_url, fake_cj, fake_tiktok,
                                                                  session_factory, tmp_path):
    """Issue 14: the fault scenario, with a worker killed while the orders are read."""
    service = Service(database_url, fake_cj, fake_cj.url, qps=30, log_dir=tmp_path)
    service.start_web()
    try:
        store = service.admin("POST", "/stores", json={
            "platform": "tiktok_shop", "shop_domain": SHOP, "api_base_url": fake_tiktok.url,
            "api_credentials": {"client_id": APP_KEY, "client_secret": APP_SECRET,
                                "refresh_token": "TTP_fault_refresh", "shop_cipher": "ROW_FaultCipher"}})
        service.admin("PUT", "/sku-mappings", json=[
            {"store_id": store["id"], "store_sku": "CJB-MUG-BLK-11OZ", "cj_vid": "2409150812345678900"},
            {"store_id": store["id"], "store_sku": "CJB-COASTER-SET4", "cj_vid": "2409150812345678911"}])
        service.admin("PUT", "/shipping-rules", json={"country_code": "*", "logistic_names": ["CJPacket Ordinary"]})
        deliveries = _notifications(fake_tiktok.orders) * 3
        random.Random(1403).shuffle(deliveries)

        def send(raw: bytes) -> int:
            return requests.post(f"{service.base}/webhooks/tiktok_shop", data=raw, timeout=10, headers={
                "Content-Type": "application/json",
                "Authorization": webhook_signature(APP_KEY, APP_SECRET, raw)}).status_code
        first = service.start_worker()
        service.start_worker()
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(send, deliveries)) == {200}
        wait_until(lambda: fake_tiktok.detail_reads >= 2, timeout=60, what="the workers to read orders")
        os.kill(first.pid, signal.SIGKILL)  # mid-way: its job's lease expires and another worker takes it
        service.start_worker()

        def all_at_cj():
            with session_factory() as s:
                return len([o for o in s.scalars(sa.select(Order)) if o.cj_order_id]) == ORDERS
        try:
            wait_until(all_at_cj, timeout=120, what="every TikTok order to reach CJ")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {queue_snapshot(session_factory)}") from None
        with session_factory() as s:
            assert s.scalar(sa.select(sa.func.count(WebhookEvent.id)).where(
                WebhookEvent.source == "tiktok_shop")) == ORDERS  # the repeats were duplicates
        numbers = [number for number, count in fake_cj.create_attempts.items() for _ in range(count)]
        assert len(numbers) == len(set(numbers)) == ORDERS, fake_cj.create_attempts
        assert fake_cj.duplicates_refused == 0
    finally:
        service.stop()
