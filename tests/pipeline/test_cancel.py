"""orders/cancelled: delete the CJ order before payment, hold for a human after."""
from __future__ import annotations

import responses
from sqlalchemy import select, update

from service.jobs.worker import schedule_periodic
from service.storage.models import Order, PeriodicSchedule, Shipment
from tests.conftest import the_order, SHOPIFY_SAMPLES, admin_headers, post_shopify, run_jobs, shopify_order
from tests.fakes import FakeCj, FakeShopify, envelope, timeout_error
from tests.pipeline.test_exactly_once import _make_due
from tests.pipeline.test_forward import run_first
from tests.pipeline.test_full_path import cj_ships, place_mapped_order, setup_catalog


def _cancelled_version():
    return shopify_order(cancelled_at="2026-11-28T16:40:01-05:00", cancel_reason="customer",
                         financial_status="refunded", updated_at="2026-11-28T16:40:02-05:00")


def test_cancelled_sample_before_anything_is_sent_is_just_cancelled(client, shopify_store, runtime,
                                                                   session_factory):
    post_shopify(client, SHOPIFY_SAMPLES["shopify_orders_cancelled"]["body"], topic="orders/cancelled")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "cancelled" and order.cancelled


@responses.activate
def test_cancel_before_payment_deletes_the_cj_order(app_with_store, session_factory):
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, store["id"])
    assert the_order(session_factory).state == "submitted"
    post_shopify(client, _cancelled_version(), topic="orders/cancelled")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "cancelled" and order.cj_status == "CANCELLED"
    assert [c[1] for c in cj.ops("deleteOrder")] == [{"orderId": order.cj_order_id}]


@responses.activate
def test_cancel_after_payment_needs_attention(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    assert the_order(session_factory).state == "paid"
    post_shopify(client, _cancelled_version(), topic="orders/cancelled")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "cancel_needs_attention"
    assert "Resolution:" in order.hold_detail and cj.ops("deleteOrder") == []
    # The merchant cancels it on My CJ; a retry sees that and closes the order.
    cj.orders[order.cj_order_number]["orderStatus"] = "CANCELLED"
    client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers())
    run_jobs(runtime)
    assert the_order(session_factory).state == "cancelled"


@responses.activate
def test_cancel_arriving_while_create_outcome_unknown_looks_up_first(client, shopify_store, runtime,
                                                                     session_factory):
    cj = FakeCj(responses.mock)
    cj.fail_next["createOrderV2"] = [timeout_error()]  # never reached CJ
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    assert the_order(session_factory).cj_create_state == "pending"
    post_shopify(client, _cancelled_version(), topic="orders/cancelled")
    run_jobs(runtime)
    _make_due(session_factory)
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "cancelled" and cj.orders == {}
    assert len(cj.ops("createOrderV2")) == 1


@responses.activate
def test_a_held_unpaid_order_cancelled_in_the_store_deletes_its_cj_order(client, shopify_store, runtime,
                                                                         session_factory):
    """Issue 19 (3): an order held for the balance was closed on cancel, its CJ order left unpaid at CJ."""
    cj = FakeCj(responses.mock, balance=0)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    assert order.hold_reason == "insufficient_balance"
    post_shopify(client, _cancelled_version(), topic="orders/cancelled")
    run_first(runtime, session_factory, "process_event")
    # The balance sweep's forward happens to run before the cancel job.
    with session_factory() as s:
        s.execute(update(PeriodicSchedule).values(next_run_at=order.created_at))
        s.commit()
    schedule_periodic(runtime)
    run_first(runtime, session_factory, "retry_balance_holds")
    run_first(runtime, session_factory, "forward_order")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "cancelled"
    assert [c[1] for c in cj.ops("deleteOrder")] == [{"orderId": order.cj_order_id}]
    assert cj.orders[order.cj_order_number]["orderStatus"] == "CANCELLED"


@responses.activate
def test_tracking_does_not_clear_a_hold_that_asks_a_human(client, shopify_store, runtime, session_factory):
    """Issue 19 (4): cancel_needs_attention went held → shipped → fulfilled when CJ's tracking arrived."""
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    post_shopify(client, _cancelled_version(), topic="orders/cancelled")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.hold_reason == "cancel_needs_attention"
    cj_ships(client, cj, order)
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "cancel_needs_attention"
    with session_factory() as s:  # recorded beside the hold
        assert [r.tracking_number for r in s.scalars(select(Shipment))] == \
            ["CJPKD0000000001US"]
    assert shop.operations("CreateFulfillment") == []  # never written to a cancelled store order
    # Once the merchant has settled it with CJ, they say so; then the order is closed.
    res = client.post(f"/admin/orders/{order.id}/acknowledge", headers=admin_headers(),
                      json={"comment": "dispute opened, refund agreed"})
    assert res.status_code == 200 and res.get_json()["data"]["state"] == "cancelled"
    assert client.post(f"/admin/orders/{order.id}/acknowledge", headers=admin_headers()).status_code == 409


@responses.activate
def test_not_found_for_an_order_cj_created_is_looked_up_again_then_held(client, shopify_store, runtime,
                                                                         session_factory):
    """Issue 19 (5): CJ's 'not found' (a lagging read) closed the order as 'no CJ order exists'."""
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"], financial_status="paid")
    with session_factory() as s:
        o = s.scalars(select(Order)).one()
        o.cj_pay_state, o.state = None, "submitted"
        s.commit()
    cj.fail_next["getOrderDetail"] = [(200, envelope(code=1600300, message="order not found"))] * 3
    post_shopify(client, _cancelled_version(), topic="orders/cancelled")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state != "cancelled" and cj.ops("deleteOrder") == []
    for _ in range(3):
        _make_due(session_factory)
        run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "cancel_needs_attention"
    assert "not found" in order.hold_detail and "Resolution:" in order.hold_detail
    assert len(cj.ops("getOrderDetail")) == 3 and cj.ops("deleteOrder") == []


@responses.activate
def test_a_lagging_not_found_then_found_deletes_the_unpaid_order(app_with_store, session_factory):
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, store["id"])
    cj.fail_next["getOrderDetail"] = [(200, envelope(code=1600300, message="order not found"))]
    post_shopify(client, _cancelled_version(), topic="orders/cancelled")
    run_jobs(runtime)
    _make_due(session_factory)
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "cancelled" and cj.orders[order.cj_order_number]["orderStatus"] == "CANCELLED"
