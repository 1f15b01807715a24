"""Invariant 2: a store order becomes exactly one CJ order, whatever fails in between."""
from __future__ import annotations

from datetime import timedelta
from unittest import mock

import responses
from sqlalchemy import select, update

from service.jobs.queue import claim
from service.storage.models import Job
from service.pipeline import forward
from service.timeutil import utcnow
from tests.conftest import the_order, post_shopify, run_jobs, shopify_order
from tests.fakes import FakeCj, timeout_error
from tests.pipeline.test_full_path import NEAR_CAP, setup_catalog


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs, no except Exception catches it."""



def _expire_leases(session_factory):
    with session_factory() as s:
        s.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1), run_at=utcnow()))
        s.commit()


def _make_due(session_factory):
    with session_factory() as s:
        s.execute(update(Job).where(Job.status == "queued").values(run_at=utcnow() - timedelta(seconds=1)))
        s.commit()


@responses.activate
def test_create_timeout_after_cj_accepted_is_resolved_by_lookup(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)

    def accept_then_time_out(body, query):
        cj.create_order(body)
        raise timeout_error()
    cj.fail_next["createOrderV2"] = [accept_then_time_out]
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    assert the_order(session_factory).cj_create_state == "pending"
    _make_due(session_factory)
    run_jobs(runtime)

    assert len(cj.ops("createOrderV2")) == 1  # no second create
    assert cj.ops("getOrderDetail")[0][1]["orderId"] == the_order(session_factory).cj_order_number
    order = the_order(session_factory)
    assert order.cj_order_id == cj.orders[order.cj_order_number]["orderId"]
    assert order.state == "paid" and len(cj.orders) == 1


@responses.activate
def test_1603003_binds_the_existing_cj_order(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    number = f"CJB{shopify_store['id']}-7012345678901"
    cj.create_order({"orderNumber": number, "logisticName": "CJPacket Ordinary"})  # e.g. from a restored backup
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.cj_order_id == cj.orders[number]["orderId"]
    assert len(cj.orders) == 1 and order.state == "paid"
    history = [t.reason for t in _transitions(session_factory)]
    assert "cj_order_created" in history


def _transitions(session_factory):
    from service.storage.models import OrderTransition
    with session_factory() as s:
        return s.scalars(select(OrderTransition).order_by(OrderTransition.id)).all()


@responses.activate
def test_worker_killed_after_claiming_the_job_is_reclaimed_after_lease(client, shopify_store, runtime,
                                                                      session_factory):
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)  # process_event → forward job queued and run
    assert len(cj.orders) == 1
    # Now a new order whose worker dies right after claiming.
    post_shopify(client, shopify_order(id=7012345678902, admin_graphql_api_id="gid://shopify/Order/7012345678902"))
    dead_worker_job = claim(session_factory, worker_id="worker-A", lease_seconds=300)
    assert dead_worker_job.kind == "process_event"
    assert run_jobs(runtime) == 0  # leased: nobody else takes it
    _expire_leases(session_factory)
    run_jobs(runtime)
    assert len(cj.orders) == 2 and len(cj.ops("createOrderV2")) == 2
    with session_factory() as s:
        job = s.get(Job, dead_worker_job.id)
        assert job.status == "done" and job.attempts == 2


@responses.activate
def test_worker_killed_after_cj_accepted_before_commit(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    real_bind = forward.bind_cj_order
    with mock.patch.object(forward, "bind_cj_order", side_effect=Killed("SIGKILL")):
        try:
            run_jobs(runtime)
        except Killed:
            pass
    assert len(cj.orders) == 1  # CJ has it, we never recorded its id
    order = the_order(session_factory)
    assert order.cj_create_state == "pending" and order.cj_order_id is None
    with session_factory() as s:
        assert s.scalars(select(Job).where(Job.kind == "forward_order")).one().status == "running"
    _expire_leases(session_factory)
    with mock.patch.object(forward, "bind_cj_order", side_effect=real_bind):
        run_jobs(runtime)
    assert len(cj.ops("createOrderV2")) == 1
    order = the_order(session_factory)
    assert order.cj_order_id == cj.orders[order.cj_order_number]["orderId"] and order.state == "paid"


@responses.activate
def test_create_5xx_then_lookup_finds_nothing_then_creates_once(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    cj.fail_next["createOrderV2"] = [(502, {"message": "bad gateway"})]
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    _make_due(session_factory)
    run_jobs(runtime)
    assert len(cj.ops("createOrderV2")) == 2 and len(cj.orders) == 1
    assert [c[0] for c in cj.ops() if c[0] in ("getOrderDetail", "createOrderV2")][:3] == [
        "createOrderV2", "getOrderDetail", "createOrderV2"]


@responses.activate
def test_rate_limit_backs_off_without_burning_attempts(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    cj.fail_next["createOrderV2"] = [(200, {"code": 1600200, "result": False, "data": None,
                                            "message": "Too Many Requests, QPS limit is 1 time/1second"})]
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    with session_factory() as s:
        job = s.scalars(select(Job).where(Job.kind == "forward_order")).one()
        assert job.status == "queued" and job.attempts == 0
        assert job.run_at > utcnow()
    assert the_order(session_factory).cj_create_state is None  # CJ refused: a new create is safe
    _make_due(session_factory)
    run_jobs(runtime)
    assert len(cj.orders) == 1 and the_order(session_factory).state == "paid"


@responses.activate
def test_pay_timeout_is_retried_and_paid_once(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)

    def pay_then_time_out(body, query):
        cj._payBalance(body, query)
        raise timeout_error()
    cj.fail_next["payBalance"] = [pay_then_time_out]
    setup_catalog(client, shopify_store["id"], cap=NEAR_CAP)  # created, then confirmed and paid: 3 calls
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "submitted" and order.cj_pay_state == "pending"
    _make_due(session_factory)
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "paid" and len(cj.ops("payBalance")) == 1  # CJ's status said paid: no second debit
    assert cj.balance == 100.0 - 18.31


@responses.activate
def test_pay_timeout_before_cj_acted_pays_on_retry(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    cj.fail_next["payBalance"] = [timeout_error()]
    setup_catalog(client, shopify_store["id"], cap=NEAR_CAP)
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    _make_due(session_factory)
    run_jobs(runtime)
    assert the_order(session_factory).state == "paid" and len(cj.ops("payBalance")) == 2
