"""eBay in the real processes: a worker killed in the middle of a poll loses and doubles nothing."""
from __future__ import annotations

import copy
import os
import signal
from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.storage.models import Order, Store
from service.timeutil import utcnow
from tests.conftest import load_fixture
from tests.fault.fake_servers import FakeEbayServer, ServerThread
from tests.fault.harness import Service, wait_until

SAMPLE = load_fixture("ebay_samples.json")["ebay_getOrders_response"]["orders"][0]


@pytest.fixture
def fake_ebay():
    ebay = FakeEbayServer()
    with ServerThread(ebay.app) as server:
        ebay.url = server.url
        yield ebay


def _orders(n: int) -> list[dict]:
    out = []
    for i in range(n):
        order = copy.deepcopy(SAMPLE)
        order["orderId"] = f"24-13579-{86400 + i}"
        order["lastModifiedDate"] = (utcnow() - timedelta(minutes=20, seconds=-i)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z")
        out.append(order)
    return out


def test_a_worker_killed_mid_poll_loses_and_doubles_nothing(database_url, fake_cj, fake_ebay, session_factory,
                                                            tmp_path):
    """Issue 13: the poll job dies between pages; its lease expires and the next worker polls it all again."""
    service = Service(database_url, fake_cj, fake_cj.url, qps=30, log_dir=tmp_path,
                      extra_env={"WEBHOOK_GRACE_MINUTES": "1", "STORE_POLL_MINUTES": "1"})
    service.start_web()
    try:
        store = service.admin("POST", "/stores", json={
            "platform": "ebay", "shop_domain": "cjbridge_demo_store", "api_base_url": fake_ebay.url,
            "api_credentials": {"client_id": "app", "client_secret": "cert", "refresh_token": "refresh"}})
        service.admin("PUT", "/sku-mappings", json=[
            {"store_id": store["id"], "store_sku": "CJB-MUG-BLK-11OZ", "cj_vid": "2409150812345678900"},
            {"store_id": store["id"], "store_sku": "CJB-COASTER-SET4", "cj_vid": "2409150812345678911"}])
        service.admin("PUT", "/shipping-rules", json={"country_code": "*", "logistic_names": ["CJPacket Ordinary"]})
        with session_factory() as s:  # registered an hour ago: the orders fall in its first poll's window
            s.execute(sa.update(Store).values(created_at=utcnow() - timedelta(hours=1)))
            s.commit()
        orders = _orders(5)
        fake_ebay.orders = {o["orderId"]: o for o in orders}

        worker = service.start_worker()
        killed = []

        def kill_on_second_page(offset):
            if offset and not killed:
                killed.append(offset)
                os.kill(worker.pid, signal.SIGKILL)
        fake_ebay.before_orders_page = kill_on_second_page
        wait_until(lambda: killed and worker.poll() is not None, timeout=60, what="the worker to be killed mid-poll")
        fake_ebay.before_orders_page = None
        service.start_worker()

        def all_at_cj():
            with session_factory() as s:
                return len([o for o in s.scalars(sa.select(Order)) if o.cj_order_id]) == len(orders)
        wait_until(all_at_cj, timeout=90, what="every polled order to reach CJ")
        with session_factory() as s:
            assert sorted(o.platform_order_id for o in s.scalars(sa.select(Order))) == sorted(fake_ebay.orders)
        numbers = [number for number, count in fake_cj.create_attempts.items() for _ in range(count)]
        assert len(numbers) == len(set(numbers)) == len(orders), fake_cj.create_attempts
        assert fake_cj.duplicates_refused == 0
    finally:
        service.stop()
