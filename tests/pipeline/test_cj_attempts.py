"""A store order whose CJ order is gone for good goes to CJ again: a new attempt with its own orderNumber."""
from __future__ import annotations

import json

import responses
from sqlalchemy import select

from service.pipeline.cj_attempts import ORDER_NUMBER_MAX, attempt_number, cj_order_number
from service.storage.models import OrderTransition
from tests.conftest import (CJ_SAMPLES, admin_headers, post_cj, post_shopify, post_woo, run_jobs, shopify_order,
                            the_order, woo_order)
from tests.fakes import FakeCj
from tests.pipeline.test_full_path import place_mapped_order
from tests.pipeline.test_woocommerce_flow import woo_catalog


def cj_cancels(client, order, message_id="cj-cancel-1"):
    message = json.loads(CJ_SAMPLES["webhook_order_message"]["raw_body"])
    message.update(messageId=message_id, messageType="UPDATE")
    message["params"].update(cjOrderId=order.cj_order_id, orderNumber=order.cj_order_number,
                             orderNum=order.cj_order_number, orderStatus="CANCELLED", trackNumber=None,
                             trackingUrl=None)
    assert post_cj(client, message).status_code == 200


@responses.activate
def test_retry_of_a_cj_cancelled_order_sends_a_new_cj_order_once(client, shopify_store, runtime, session_factory):
    """Issue 19 (6): the cj_cancelled hold said 'retry to send a new CJ order', and the retry did nothing."""
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    first = the_order(session_factory)
    cj.orders[first.cj_order_number]["orderStatus"] = "CANCELLED"
    cj_cancels(client, first)
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "cj_cancelled"
    assert client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers()).status_code == 202
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "paid" and order.cj_attempt == 1
    assert order.cj_order_number == f"{first.cj_order_number}-R1" and order.cj_order_id != first.cj_order_id
    assert [c[1]["orderNumber"] for c in cj.ops("createOrderV2")] == [first.cj_order_number, order.cj_order_number]
    assert [a["order_number"] for a in order.cj_attempt_history] == [first.cj_order_number]
    assert order.cj_attempt_history[0]["cj_order_id"] == first.cj_order_id
    # A second retry, or a repeat of CJ's message, sends nothing more.
    cj_cancels(client, first)
    client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers())
    run_jobs(runtime)
    assert len(cj.ops("createOrderV2")) == 2
    with session_factory() as s:
        reasons = [t.reason for t in s.scalars(select(OrderTransition).order_by(OrderTransition.id))]
    assert "cj_new_attempt" in reasons and "resend_requested" in reasons


@responses.activate
def test_a_woo_order_restored_after_its_cj_order_was_deleted_goes_to_cj_again(make_app,
                                                                              session_factory):
    """Issue 19 (6): trashed after reaching CJ, then restored: it stayed `cancelled`, and retry answered 409."""
    app = make_app(CJ_AUTO_PAY="false")
    client, runtime = app.test_client(), app.extensions["cj_bridge"]
    runtime.cj._sleep = lambda _s: None
    store = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "woocommerce", "site_url": "https://shop.example.com/",
        "webhook_secret": "test-webhook-secret-NOT-REAL",
        "api_credentials": {"consumer_key": "ck_test", "consumer_secret": "cs_test"}}).get_json()["data"]
    cj = FakeCj(responses.mock)
    woo_catalog(client, store["id"])
    post_woo(client, woo_order())
    run_jobs(runtime)
    first = the_order(session_factory)
    assert first.state == "submitted"
    post_woo(client, woo_order(status="trash", date_modified_gmt="2026-11-29T07:00:00"), topic="order.updated")
    run_jobs(runtime)
    assert the_order(session_factory).state == "cancelled"
    assert cj.orders[first.cj_order_number]["orderStatus"] == "CANCELLED"
    post_woo(client, woo_order(status="processing", date_modified_gmt="2026-11-29T08:00:00"), topic="order.restored")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "submitted" and order.cj_order_number == f"{first.cj_order_number}-R1"
    assert [c[1]["orderNumber"] for c in cj.ops("createOrderV2")] == [first.cj_order_number, order.cj_order_number]


@responses.activate
def test_a_store_order_reopened_while_its_cj_order_stands_carries_on_with_it(client, shopify_store, runtime,
                                                                              session_factory):
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    post_shopify(client, shopify_order(cancelled_at="2026-11-28T16:40:01-05:00", financial_status="refunded",
                                       updated_at="2026-11-28T16:40:02-05:00"), topic="orders/cancelled")
    run_jobs(runtime)
    assert the_order(session_factory).hold_reason == "cancel_needs_attention"  # paid: CJ cannot cancel it
    post_shopify(client, shopify_order(updated_at="2026-11-28T16:50:00-05:00"), topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "paid" and not order.cancelled and order.cj_attempt == 0
    assert len(cj.ops("createOrderV2")) == 1 and cj.ops("deleteOrder") == []


def test_long_store_order_ids_never_share_a_cj_order_number():
    """Issue 19 (13): cutting to 50 characters made two long store ids collide."""
    a, b = "X" * 60 + "1", "X" * 60 + "2"
    firsts = {cj_order_number(7, a), cj_order_number(7, b)}
    numbers = firsts | {attempt_number(n, 1) for n in firsts} | {attempt_number(n, 12) for n in firsts}
    assert len(numbers) == 6 and all(len(n) <= ORDER_NUMBER_MAX for n in numbers)
    assert cj_order_number(7, a) == cj_order_number(7, a)  # deterministic
    assert cj_order_number(3, "4821") == "CJB3-4821" and attempt_number("CJB3-4821", 2) == "CJB3-4821-R2"
    assert cj_order_number(3, "4821", prefix="K7Q2M") == "CJBK7Q2M-3-4821"


def test_each_deployment_draws_its_own_order_number_prefix(tmp_path):
    """Issue 22 (8): CJB<store>-<order> is not unique per CJ account (two deployments, a re-created SQLite file)."""
    from service.storage.database import make_engine, make_session_factory
    from service.storage.migrate import upgrade
    from service.pipeline.cj_attempts import deployment_prefix
    prefixes = []
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path / name}.sqlite3"
        upgrade(url)
        engine = make_engine(url)
        with make_session_factory(engine)() as s:
            prefixes.append(deployment_prefix(s))
        engine.dispose()
    assert all(p and len(p) == 5 and p.isalnum() for p in prefixes) and prefixes[0] != prefixes[1]


@responses.activate
def test_new_orders_carry_the_deployment_prefix(client, shopify_store, runtime, session_factory, monkeypatch):
    from service.pipeline import cj_attempts
    from service.storage.models import CjAccountState
    monkeypatch.setattr(cj_attempts, "_prefixes", {})  # the per-process cache must not outlive this test
    with session_factory() as s:
        s.get(CjAccountState, 1).order_number_prefix = "K7Q2M"
        s.commit()
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    assert order.cj_order_number == f"CJBK7Q2M-{shopify_store['id']}-7012345678901"
    assert list(cj.orders) == [order.cj_order_number] and order.state == "paid"


@responses.activate
def test_a_cj_order_under_our_number_that_is_not_ours_is_never_bound(client, shopify_store, runtime,
                                                                     session_factory):
    """Issue 22 (8): on 1603003 the existing CJ order was bound whatever it was (another shop's order)."""
    cj = FakeCj(responses.mock)
    number = f"CJB{shopify_store['id']}-7012345678901"
    cj.create_order({"orderNumber": number, "logisticName": "CJPacket Ordinary", "shippingCountryCode": "DE",
                     "shippingCustomerName": "Someone Else", "products": [{"vid": "other-vid", "quantity": 1}]})
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "cj_order_number_taken"
    assert order.cj_order_id is None and order.cj_create_state is None
    assert "destination DE" in order.hold_detail and "Resolution:" in order.hold_detail
    assert cj.ops("payBalance") == []
    assert client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers()).status_code == 202
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "paid" and order.cj_order_number == f"{number}-R1"
    assert cj.orders[number]["orderStatus"] == "CREATED"  # the other order is left alone


@responses.activate
def test_the_same_order_found_after_1603003_is_bound(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    from tests.fakes import timeout_error
    from tests.pipeline.test_exactly_once import _make_due
    original = cj.create_order

    def accept_then_time_out(body):
        original(body)
        raise timeout_error()
    cj.fail_next["createOrderV2"] = [lambda body, query: accept_then_time_out(body)]
    place_mapped_order(client, runtime, shopify_store["id"])
    _make_due(session_factory)
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "paid" and len(cj.orders) == 1
    assert order.cj_order_id == cj.orders[order.cj_order_number]["orderId"]
