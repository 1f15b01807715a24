"""Fault injection with real processes: repeated, shuffled deliveries; CJ failures; killed workers."""
from __future__ import annotations

import os
import random
import signal

import pytest

from tests.fault.checks import (assert_each_order_at_cj_once, ship_all_and_wait_for_write_back,
                                wait_all_paid)
from tests.fault.harness import make_orders, signed, wait_until


def _deliver_shuffled(service, orders, rng):
    """Every order as orders/updated (newer) and orders/create (older), each sent 3–5 times, shuffled."""
    deliveries = []
    for body in orders:
        create = signed(body, "orders/create")
        update = signed(body, "orders/updated", updated_at="2026-11-28T14:06:00-05:00")
        for delivery in (create, update):
            deliveries += [delivery] * rng.randint(3, 5)
    rng.shuffle(deliveries)
    for raw, headers in deliveries:
        assert service.deliver(raw, headers) == 200
    return len(deliveries)


def _shuffled_scenario(service, fake_cj, fake_shopify, session_factory, *, orders: int, seed: int, workers: int,
                       cj_deliveries: int):
    rng = random.Random(seed)
    service.setup_store(fake_shopify.url)
    bodies = make_orders(orders)
    for body in bodies:
        fake_shopify.announce(body)
    for _ in range(workers):
        service.start_worker()
    _deliver_shuffled(service, bodies, rng)
    wait_all_paid(session_factory, bodies)
    assert_each_order_at_cj_once(fake_cj, session_factory, bodies)
    assert fake_cj.duplicates_refused == 0 and fake_cj.rate_limited == 0
    ship_all_and_wait_for_write_back(service, fake_cj, fake_shopify, session_factory, bodies,
                                     deliveries=cj_deliveries)


def test_repeated_shuffled_deliveries_make_each_order_once(service, fake_cj, fake_shopify, session_factory):
    _shuffled_scenario(service, fake_cj, fake_shopify, session_factory, orders=12, seed=7, workers=1,
                       cj_deliveries=3)


def _killed_worker_scenario(service, fake_cj, fake_shopify, session_factory, *, hook: str, should_kill) -> list:
    """A worker is SIGKILLed when the fake CJ's `hook` sees should_kill(arg); a new worker takes over."""
    service.setup_store(fake_shopify.url)
    orders = make_orders(3)
    for body in orders:
        fake_shopify.announce(body)
    worker = service.start_worker()
    killed = []

    def kill(arg):
        if not killed and should_kill(arg):
            killed.append(arg)
            os.kill(worker.pid, signal.SIGKILL)
    setattr(fake_cj, hook, kill)
    for body in orders:
        assert service.deliver(*signed(body, "orders/paid")) == 200
    wait_until(lambda: killed and worker.poll() is not None, timeout=30, what="the worker to be killed")
    setattr(fake_cj, hook, None)
    service.start_worker()  # the platform restarts the dyno; the lease of the dead one expires
    wait_all_paid(session_factory, orders)
    assert_each_order_at_cj_once(fake_cj, session_factory, orders)
    assert fake_cj.duplicates_refused == 0
    ship_all_and_wait_for_write_back(service, fake_cj, fake_shopify, session_factory, orders)
    return killed


def test_worker_killed_after_claiming_its_job(service, fake_cj, fake_shopify, session_factory):
    # Reading CJ's stock for a local warehouse (or a freight quote) is the first CJ call forward_order makes
    # once it has claimed the job (the harness's rule has one method and no cap: no quote is needed).
    _killed_worker_scenario(service, fake_cj, fake_shopify, session_factory, hook="before_operation",
                            should_kill=lambda operation: operation in ("queryByVid", "freightCalculate"))


def test_worker_killed_after_cj_accepted_the_create(service, fake_cj, fake_shopify, session_factory):
    # CJ has stored the order; the worker dies before it hears back, so before it commits.
    (order,) = _killed_worker_scenario(service, fake_cj, fake_shopify, session_factory,
                                       hook="before_create_reply", should_kill=lambda order: True)
    assert fake_cj.create_attempts[order["orderNumber"]] == 1, "the order CJ accepted was created again"


def test_cj_500_timeout_busy_and_token_invalidation(service, fake_cj, fake_shopify, session_factory):
    service.setup_store(fake_shopify.url)
    orders = make_orders(6)
    for body in orders:
        fake_shopify.announce(body)
    fake_cj.faults["createOrderV2"] = ["500", "timeout", "busy"]
    fake_cj.faults["payBalance"] = ["timeout"]
    fake_cj.faults["queryByVid"] = ["500"]  # a stock read that fails: shipped from China, nothing held up
    service.start_worker()
    for body in orders[:3]:
        assert service.deliver(*signed(body, "orders/paid")) == 200
    wait_until(lambda: len(fake_cj.orders) >= 2, timeout=60, what="the first CJ orders")
    fake_cj.invalidate_tokens()  # CJ revokes the token mid-run
    for body in orders[3:]:
        assert service.deliver(*signed(body, "orders/paid")) == 200
    wait_all_paid(session_factory, orders, timeout=120)
    assert_each_order_at_cj_once(fake_cj, session_factory, orders)
    assert len(fake_cj.token_logins) == 1  # renewed with the refresh token, not a new login
    ship_all_and_wait_for_write_back(service, fake_cj, fake_shopify, session_factory, orders)


def test_rate_limit_answers_are_backed_off_not_hammered(service, fake_cj, fake_shopify, session_factory):
    service.setup_store(fake_shopify.url)
    orders = make_orders(4)
    for body in orders:
        fake_shopify.announce(body)
    fake_cj.qps = 3  # the account is slower than CJ_QPS says: CJ answers 1600200
    service.start_worker()
    for body in orders:
        assert service.deliver(*signed(body, "orders/paid")) == 200
    wait_all_paid(session_factory, orders, timeout=120)
    assert_each_order_at_cj_once(fake_cj, session_factory, orders)
    assert fake_cj.rate_limited > 0
    fake_cj.qps = 40
    ship_all_and_wait_for_write_back(service, fake_cj, fake_shopify, session_factory, orders)


def test_two_workers_drain_the_same_queue(service, fake_cj, fake_shopify, session_factory, engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("several workers need PostgreSQL; SQLite is the single-worker default")
    _shuffled_scenario(service, fake_cj, fake_shopify, session_factory, orders=20, seed=11, workers=2,
                       cj_deliveries=2)
