"""Write-back writes what CJ was sent and shipped, nothing more: added lines, split parcels, cancelled orders."""
from __future__ import annotations

import copy

import responses
from sqlalchemy import select

from service.storage.models import Shipment

from tests.conftest import admin_headers, post_cj, post_shopify, run_jobs, shopify_order, the_order
from tests.fakes import FakeCj, FakeShopify
from tests.pipeline.test_exactly_once import _make_due
from tests.pipeline.test_full_path import cj_ships, logistic_message, place_mapped_order


def _with_added_line(**changes):
    order = shopify_order(updated_at="2026-11-28T17:00:00-05:00", **changes)
    added = dict(order["line_items"][0], id=16011223344003, admin_graphql_api_id="gid://shopify/LineItem/16011223344003",
                 sku="ADDED-LATER", title="Gift wrap", variant_id=50011223344999, quantity=1, current_quantity=1)
    order["line_items"].append(added)
    return order


@responses.activate
def test_lines_added_after_payment_are_held_and_never_marked_shipped(client, shopify_store, runtime,
                                                                      session_factory):
    """Issue 19 (10): an item added in Shopify after the CJ order was placed was fulfilled with CJ's tracking.

    Issue 11 (3): the CJ order is paid (CJ_AUTO_PAY), so it cannot be re-created: held with what changed."""
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    added_node = {"id": "gid://shopify/FulfillmentOrderLineItem/99", "sku": "ADDED-LATER", "totalQuantity": 1,
                  "remainingQuantity": 1, "lineItem": {"id": "gid://shopify/LineItem/16011223344003",
                                                       "sku": "ADDED-LATER"}}
    shop.order["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"].append(added_node)
    place_mapped_order(client, runtime, shopify_store["id"])
    post_shopify(client, _with_added_line(), topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "edit_needs_attention"
    assert "line 16011223344003: 0 sent to CJ, 1 now" in order.hold_detail and "Resolution:" in order.hold_detail
    cj_ships(client, cj, order)
    run_jobs(runtime)
    (create,) = shop.operations("CreateFulfillment")
    items = [i for g in create["variables"]["fulfillment"]["lineItemsByFulfillmentOrder"]
             for i in g["fulfillmentOrderLineItems"]]
    assert "gid://shopify/FulfillmentOrderLineItem/99" not in {i["id"] for i in items}
    assert added_node["remainingQuantity"] == 1  # the added item is still to be shipped by the merchant
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "edit_needs_attention"  # tracking beside the hold
    res = client.post(f"/admin/orders/{order.id}/acknowledge", headers=admin_headers())
    assert res.status_code == 200 and res.get_json()["data"]["state"] == "fulfilled"


@responses.activate
def test_an_order_that_shrank_after_payment_is_held_with_the_difference(client, shopify_store, runtime,
                                                                        session_factory):
    """Issue 11 (3): CJ ships what it was paid for; the merchant is told the store now wants one unit less."""
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    smaller = shopify_order(updated_at="2026-11-28T17:00:00-05:00")
    smaller["line_items"][0]["current_quantity"] = 1
    post_shopify(client, smaller, topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "edit_needs_attention"
    assert "line 16011223344001: 2 sent to CJ, 1 now" in order.hold_detail
    assert cj.ops("deleteOrder") == [] and len(cj.ops("createOrderV2")) == 1


def _split_over_two_locations(shop):
    """The sample's two lines, stocked at two locations: one fulfillment order each."""
    first = shop.order["fulfillmentOrders"]["nodes"][0]
    second = copy.deepcopy(first)
    second.update(id="gid://shopify/FulfillmentOrder/6543210987602",
                  assignedLocation={"name": "Second Warehouse", "location": {"id": "gid://shopify/Location/2"}})
    second["lineItems"]["nodes"] = [first["lineItems"]["nodes"].pop(1)]
    shop.order["fulfillmentOrders"]["nodes"].append(second)


@responses.activate
def test_a_write_back_that_failed_half_way_is_finished_on_retry(client, shopify_store, runtime, session_factory):
    """Issue 19 (11): the retry saw the number on the first location's fulfillment and stopped there."""
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    _split_over_two_locations(shop)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    shop.fail_creates = {2}  # the second location's create fails once
    cj_ships(client, cj, order)
    run_jobs(runtime)
    assert len(shop.fulfillments) == 1 and the_order(session_factory).state == "shipped"
    _make_due(session_factory)
    run_jobs(runtime)
    assert len(shop.fulfillments) == 2
    assert all(n["remainingQuantity"] == 0 for fo in shop.order["fulfillmentOrders"]["nodes"]
               for n in fo["lineItems"]["nodes"])
    order = the_order(session_factory)
    assert order.state == "fulfilled"
    with session_factory() as s:
        (shipment,) = s.scalars(select(Shipment)).all()
        assert shipment.store_fulfillment_id == "gid://shopify/Fulfillment/1,gid://shopify/Fulfillment/2"
    # Once more: nothing is left to write, and nothing is written twice.
    post_cj(client, logistic_message(order.cj_order_id, message_id="again"))
    run_jobs(runtime)
    assert len(shop.fulfillments) == 2 and len(shop.operations("CreateFulfillment")) == 3  # one of them failed


@responses.activate
def test_a_second_number_on_a_two_location_order_updates_each_fulfillment_once(client, shopify_store, runtime,
                                                                                 session_factory):
    """Issue 23 (9): the extra number went out as one update naming both fulfillment ids joined by a comma."""
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    _split_over_two_locations(shop)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    cj_ships(client, cj, order)
    run_jobs(runtime)
    assert len(shop.fulfillments) == 2
    cj_ships(client, cj, order, tracking="9400111899562345678901", message_id="m-second")
    run_jobs(runtime)
    ids = [u["variables"]["fulfillmentId"] for u in shop.operations("UpdateTracking")]
    assert ids == ["gid://shopify/Fulfillment/1", "gid://shopify/Fulfillment/2"]
    assert all("," not in i for i in ids)
    assert all(f["trackingInfo"][0]["numbers"] == ["CJPKD0000000001US", "9400111899562345678901"]
               for f in shop.fulfillments)


@responses.activate
def test_shopify_failing_inside_a_200_answer_is_retried_not_held(client, shopify_store, runtime, session_factory):
    """Issue 23 (8): INTERNAL_SERVER_ERROR in a 200 answer held the order for a human."""
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    shop.fail_graphql = [{"errors": [{"message": "Internal error. Looks like something went wrong on our end.",
                                      "extensions": {"code": "INTERNAL_SERVER_ERROR",
                                                     "requestId": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}}]}]
    cj_ships(client, cj, the_order(session_factory))
    run_jobs(runtime)
    assert the_order(session_factory).state == "shipped"  # not held: the write-back waits for its retry
    _make_due(session_factory)
    run_jobs(runtime)
    assert the_order(session_factory).state == "fulfilled" and len(shop.fulfillments) == 1


@responses.activate
def test_a_graphql_error_about_the_request_still_holds_with_a_resolution(client, shopify_store, runtime,
                                                                       session_factory):
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    shop.fail_graphql = [{"errors": [{"message": "Access denied for fulfillmentOrders field.",
                                      "extensions": {"code": "ACCESS_DENIED"}}]}]
    cj_ships(client, cj, the_order(session_factory))
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and "ACCESS_DENIED" in order.hold_detail and "Resolution:" in order.hold_detail


@responses.activate
def test_a_fulfillment_on_hold_in_shopify_is_never_marked_fulfilled_here(client, shopify_store, runtime,
                                                                       session_factory):
    """Issue 23 (5): the order became "fulfilled" here while Shopify had no tracking on it."""
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    fo = shop.order["fulfillmentOrders"]["nodes"][0]
    fo.update(status="ON_HOLD", supportedActions=[{"action": "RELEASE_HOLD"}],
              fulfillmentHolds=[{"reason": "HIGH_RISK_OF_FRAUD", "reasonNotes": None}])
    cj_ships(client, cj, the_order(session_factory))
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "fulfillment_on_hold"
    assert "HIGH_RISK_OF_FRAUD" in order.hold_detail and shop.fulfillments == []
    fo.update(status="OPEN", supportedActions=[{"action": "CREATE_FULFILLMENT"}], fulfillmentHolds=[])
    client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers())
    run_jobs(runtime)
    assert the_order(session_factory).state == "fulfilled" and len(shop.fulfillments) == 1
