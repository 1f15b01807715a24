"""CJ updates in: ORDER/LOGISTIC webhooks and the polling fallback for lost webhooks."""
from __future__ import annotations

import json
from datetime import timedelta

import responses
from sqlalchemy import select, update

from service.storage.models import Order
from service.timeutil import utcnow
from service.jobs.worker import schedule_periodic
from tests.conftest import the_order, CJ_SAMPLES, post_cj, post_shopify, run_jobs, shopify_order
from tests.fakes import FakeCj, FakeShopify
from tests.pipeline.test_full_path import cj_ships, place_mapped_order, setup_catalog



@responses.activate
def test_lost_cj_webhook_only_delays_tracking(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    cj.ship(order.cj_order_number)  # CJ ships; its webhook never arrives
    with session_factory() as s:
        s.execute(update(Order).values(last_cj_update_at=utcnow() - timedelta(days=1)))
        s.commit()
    schedule_periodic(runtime)
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "fulfilled" and order.cj_status == "SHIPPED"
    assert shop.operations("CreateFulfillment")[0]["variables"]["fulfillment"]["trackingInfo"]["number"] == \
        "CJPKD0000000001US"


@responses.activate
def test_recently_updated_orders_are_not_polled(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    before = len(cj.ops("getOrderDetail"))
    schedule_periodic(runtime)
    run_jobs(runtime)
    assert len(cj.ops("getOrderDetail")) == before


@responses.activate
def test_order_connected_binds_the_id_cj_reports(app_with_store, session_factory):
    """A line that is not a CJ SKU: the create answer has no orderId; CJ connects the order later."""
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    original_create = cj.create_order

    def create_without_id(body):
        answer = original_create(body)
        answer["data"].pop("orderId")
        return answer
    cj.create_order = create_without_id
    place_mapped_order(client, runtime, store["id"])
    order = the_order(session_factory)
    assert order.cj_order_id is None
    cj.orders[order.cj_order_number]["orderId"] = "9999000011112222333"  # CJ connected it
    message = json.loads(CJ_SAMPLES["webhook_order_message"]["raw_body"])
    message.update(messageId="connected-1", messageType="ORDER_CONNNECTED")
    message["params"].update(cjOrderId="9999000011112222333", orderNumber=order.cj_order_number,
                             orderNum=order.cj_order_number, orderStatus="UNPAID", trackNumber=None)
    post_cj(client, message)
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.cj_order_id == "9999000011112222333"
    assert [c[1]["orderId"] for c in cj.ops("getOrderDetail")] == [order.cj_order_number]  # read by our number


def test_message_for_an_unknown_order_is_recorded_not_failed(client, runtime, session_factory):
    message = json.loads(CJ_SAMPLES["webhook_logistic_message"]["raw_body"])
    post_cj(client, message)
    run_jobs(runtime)
    from service.storage.models import Job, WebhookEvent
    with session_factory() as s:
        assert s.scalars(select(WebhookEvent)).one().note == "no_matching_order"
        assert s.scalars(select(Job)).one().status == "done"


@responses.activate
def test_the_periodic_sync_binds_cjs_order_id_not_its_order_code(app_with_store, session_factory):
    """Issue 19 (8): getOrderDetail's cjOrderId is a "CJ…" code; bound as the id, LOGISTIC messages matched nothing."""
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    original = cj._getOrderDetail

    def detail_with_code(body, query):
        answer = original(body, query)
        if answer.get("data"):
            answer["data"]["cjOrderId"] = answer["data"]["cjOrderCode"] = "CJ2509231420054512345"
        return answer
    cj._getOrderDetail = detail_with_code
    setup_catalog(client, store["id"])
    original_create = cj.create_order

    def create_without_id(body):  # a line that is not a CJ SKU: the create answer carries no orderId
        answer = original_create(body)
        answer["data"].pop("orderId")
        return answer
    cj.create_order = create_without_id
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.cj_order_id is None and order.state == "submitted"
    with session_factory() as s:
        s.execute(update(Order).values(last_cj_update_at=utcnow() - timedelta(days=1)))
        s.commit()
    schedule_periodic(runtime)
    run_jobs(runtime)
    order = the_order(session_factory)
    real_id = cj.orders[order.cj_order_number]["orderId"]
    assert order.cj_order_id == real_id and order.cj_order_code == "CJ2509231420054512345"
    # CJ's LOGISTIC message names the numeric id: it finds the order.
    cj_ships(client, cj, order)
    run_jobs(runtime)
    assert the_order(session_factory).state in ("shipped", "fulfilled")
