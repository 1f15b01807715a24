"""orders/cancelled: delete the CJ order before payment, hold for a human after."""
from __future__ import annotations

import responses

from tests.conftest import the_order, SHOPIFY_SAMPLES, admin_headers, post_shopify, run_jobs, shopify_order
from tests.fakes import FakeCj
from tests.pipeline.test_full_path import place_mapped_order, setup_catalog



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
    from tests.fakes import timeout_error
    cj.fail_next["createOrderV2"] = [timeout_error()]  # never reached CJ
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    assert the_order(session_factory).cj_create_state == "pending"
    post_shopify(client, _cancelled_version(), topic="orders/cancelled")
    run_jobs(runtime)
    from tests.pipeline.test_exactly_once import _make_due
    _make_due(session_factory)
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "cancelled" and cj.orders == {}
    assert len(cj.ops("createOrderV2")) == 1
