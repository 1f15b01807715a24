"""Fixtures for the fault-injection suite: fake CJ and Shopify servers and the running service."""
from __future__ import annotations

import pytest

from tests.fault.fake_servers import FakeCjServer, FakeShopifyServer, ServerThread
from tests.fault.harness import Service


@pytest.fixture
def fake_cj():
    cj = FakeCjServer(qps=40)
    with ServerThread(cj.app) as server:
        cj.url = server.url
        yield cj


@pytest.fixture
def fake_shopify():
    shop = FakeShopifyServer()
    with ServerThread(shop.app) as server:
        shop.url = server.url
        yield shop


@pytest.fixture
def service(database_url, fake_cj, tmp_path):
    """The web process running; workers are started by each test."""
    svc = Service(database_url, fake_cj, fake_cj.url, qps=30, log_dir=tmp_path)
    svc.start_web()
    try:
        yield svc
    finally:
        svc.stop()
