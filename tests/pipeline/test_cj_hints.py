"""CJ's webhooks are hints: only what CJ's API then says is applied (issue 22, defect 1)."""
from __future__ import annotations

import json

import responses
from sqlalchemy import select

from service.storage.models import Job, Shipment
from service.timeutil import utcnow
from service.pipeline.tracking_urls import safe_tracking_url
from tests.conftest import CJ_SAMPLES, post_cj, post_shopify, run_jobs, shopify_order, the_order
from tests.fakes import FakeCj, FakeShopify
from tests.pipeline.test_full_path import cj_ships, logistic_message, place_mapped_order, setup_catalog


def order_message(order, *, status, message_id, **params):
    message = json.loads(CJ_SAMPLES["webhook_order_message"]["raw_body"])
    message.update(messageId=message_id, messageType="UPDATE")
    message["params"].update(dict(cjOrderId=order.cj_order_id, orderNumber=order.cj_order_number,
                                  orderNum=order.cj_order_number, orderStatus=status), **params)
    return message


@responses.activate
def test_a_forged_logistic_message_never_reaches_the_customer(client, shopify_store, runtime, session_factory):
    """A forged LOGISTIC became a Shopify fulfillment with notifyCustomer and the attacker's tracking URL."""
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    forged = logistic_message(order.cj_order_id, tracking="FAKE123", message_id="forged-1")
    forged["params"]["trackingUrl"] = "https://evil.example/track?n=FAKE123"
    assert post_cj(client, forged, open_id="guessed-wrong").status_code == 200
    run_jobs(runtime)
    assert shop.operations("CreateFulfillment") == []  # CJ's API says the order has not shipped
    assert the_order(session_factory).state == "paid"
    assert len(cj.ops("orderList")) == 1
    # When CJ really ships, the number and the link come from CJ's API, never from the message.
    cj.ship(order.cj_order_number, "CJPKD0000000077US")
    cj.orders[order.cj_order_number]["trackingUrl"] = "https://evil.example/also-not"
    post_cj(client, forged | {"messageId": "forged-2"})
    run_jobs(runtime)
    (create,) = shop.operations("CreateFulfillment")
    tracking = create["variables"]["fulfillment"]["trackingInfo"]
    assert tracking["number"] == "CJPKD0000000077US"
    assert tracking["url"] == "https://www.cjpacket.com/?trackingNumber=CJPKD0000000077US"


@responses.activate
def test_a_forged_order_message_neither_pays_nor_cancels_nor_rebinds(app_with_store, session_factory):
    """A forged ORDER marked an order paid (so it was never paid), cancelled it, or rebound its CJ id."""
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, store["id"])
    order = the_order(session_factory)
    assert order.state == "submitted"
    for n, status in enumerate(("UNSHIPPED", "CANCELLED")):
        post_cj(client, order_message(order, status=status, message_id=f"forged-{n}"))
    post_cj(client, order_message(order, status="UNPAID", message_id="forged-rebind",
                                  cjOrderId="1111111111111111111"))
    run_jobs(runtime)
    after = the_order(session_factory)
    assert after.state == "submitted" and after.cj_pay_state is None and after.cj_status == "CREATED"
    assert after.cj_order_id == order.cj_order_id
    assert cj.orders[order.cj_order_number]["orderStatus"] == "CREATED"


@responses.activate
def test_a_burst_of_messages_costs_one_read_per_hundred_orders(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    setup_catalog(client, shopify_store["id"])
    for i in range(30):
        post_shopify(client, shopify_order(id=7012345670000 + i, admin_graphql_api_id=None, name=f"#{i}"))
    run_jobs(runtime)
    from service.storage.models import Order
    with session_factory() as s:
        orders = s.scalars(select(Order)).all()
    assert len(orders) == 30
    for order in orders:
        cj.ship(order.cj_order_number, f"CJPK{order.id:08d}")
        post_cj(client, logistic_message(order.cj_order_id, tracking=f"CJPK{order.id:08d}", message_id=f"m{order.id}"))
        post_cj(client, logistic_message(order.cj_order_id, tracking=f"CJPK{order.id:08d}", message_id=f"n{order.id}"))
    before = len(cj.ops("getOrderDetail"))
    run_jobs(runtime)
    assert len(cj.ops("orderList")) == 1 and len(cj.ops("getOrderDetail")) == before  # 60 messages, one read
    with session_factory() as s:
        assert sorted(r.tracking_number for r in s.scalars(select(Shipment))) == \
            sorted(f"CJPK{o.id:08d}" for o in orders)
    assert len(shop.fulfillments) == 1  # FakeShopify holds one order; the write-backs all went through it


@responses.activate
def test_an_order_missing_from_the_list_is_read_by_its_detail(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    cj.ship(order.cj_order_number)
    cj.fail_next["orderList"] = [lambda body, query: (200, {}, json.dumps(
        {"code": 200, "result": True, "data": {"list": [], "total": 0}}))]
    post_cj(client, logistic_message(order.cj_order_id))
    run_jobs(runtime)
    assert the_order(session_factory).state in ("shipped", "fulfilled")
    assert cj.ops("getOrderDetail")[-1][1]["orderId"] == order.cj_order_id


@responses.activate
def test_a_message_about_an_order_another_job_holds_is_read_later(client, shopify_store, runtime, session_factory,
                                                                  engine):
    if engine.dialect.name != "postgresql":
        import pytest
        pytest.skip("order locks exist on PostgreSQL; SQLite runs one worker")
    from service.jobs.order_lock import order_lock
    from tests.pipeline.test_exactly_once import _make_due
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    with order_lock(engine, order.id) as held:
        assert held
        cj_ships(client, cj, order)
        run_jobs(runtime)  # the read comes back for the order, which another job holds: not applied, not lost
        assert the_order(session_factory).cj_sync_requested_at is not None
    with session_factory() as s:  # and it is read again in a moment, not in a tight loop
        (job,) = s.scalars(select(Job).where(Job.kind == "read_cj_orders", Job.status == "queued")).all()
        assert job.run_at > utcnow()
    _make_due(session_factory)
    run_jobs(runtime)
    assert the_order(session_factory).state in ("shipped", "fulfilled")


def test_tracking_links_from_unknown_hosts_become_cjs_tracking_page():
    page = "https://www.cjpacket.com/?trackingNumber=AB%2F1"
    assert safe_tracking_url("https://evil.example/x", "AB/1") == page
    assert safe_tracking_url("http://www.cjpacket.com/?trackingNumber=AB", "AB/1") == page  # not https
    assert safe_tracking_url("https://user:pw@www.17track.net/x", "AB/1") == page
    assert safe_tracking_url("https://cjpacket.com.evil.example/x", "AB/1") == page
    assert safe_tracking_url(None, "AB/1") == page
    assert safe_tracking_url("https://t.17track.net/en#nums=AB", "AB") == "https://t.17track.net/en#nums=AB"
