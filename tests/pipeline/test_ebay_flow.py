"""eBay end to end: orders polled from getOrders → CJ exactly once → tracking written back once."""
from __future__ import annotations

import copy
from datetime import timedelta

import pytest
import responses
from sqlalchemy import select, update

from service.pipeline.polling import poll_store
from service.storage.models import Order, Store
from service.timeutil import utcnow
from tests.conftest import admin_headers, load_fixture, run_jobs
from tests.fakes import FakeCj, FakeEbay
from tests.pipeline.test_exactly_once import _make_due
from tests.pipeline.test_full_path import logistic_message
from tests.conftest import post_cj

SELLER = "cjbridge_demo_store"
SAMPLE = load_fixture("ebay_samples.json")["ebay_getOrders_response"]["orders"][0]
CREDENTIALS = {"client_id": "CJBridge-Demo-PRD-0f1e2d3c4-5b6a7988", "client_secret": "PRD-0f1e2d3c4b5a-6978-8796",
               "refresh_token": "v^1.1#i^1#FAKE_REFRESH_TOKEN"}


@pytest.fixture
def ebay_store(client):
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "ebay", "shop_domain": SELLER, "api_credentials": CREDENTIALS})
    assert res.status_code == 201, res.get_json()
    store = res.get_json()["data"]
    assert client.put("/admin/sku-mappings", headers=admin_headers(), json=[
        {"store_id": store["id"], "store_sku": "CJB-MUG-BLK-11OZ", "cj_vid": "vid-mug"},
        {"store_id": store["id"], "store_sku": "CJB-COASTER-SET4", "cj_vid": "vid-coaster"}]).status_code == 200
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "*", "logistic_names": ["CJPacket Ordinary"]})
    return store


def _order(minutes_ago: float = 30, **changes) -> dict:
    order = copy.deepcopy(SAMPLE)
    order["lastModifiedDate"] = (utcnow() - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    order.update(changes)
    return order


def _poll(session_factory, runtime, store_id) -> str:
    with session_factory() as s:
        s.execute(update(Store).where(Store.id == store_id).values(poll_cursor=utcnow() - timedelta(hours=1)))
        outcome = poll_store(s, store_id=store_id, runtime=runtime)
        s.commit()
    run_jobs(runtime)
    return outcome


def _the_order(session_factory) -> Order:
    with session_factory() as s:
        return s.scalars(select(Order)).one()


@responses.activate
def test_a_paid_order_polled_becomes_exactly_one_cj_order(client, ebay_store, runtime, session_factory):
    """Issue 13 (2): eBay has no order webhook; getOrders is polled and each order state goes the usual path."""
    cj = FakeCj(responses.mock)
    ebay = FakeEbay(responses.mock, orders=[_order()])
    assert _poll(session_factory, runtime, ebay_store["id"]).startswith("polled 1 order(s)")
    (create,) = cj.ops("createOrderV2")
    body = create[1]
    assert body["platform"] == "ebay" and body["shippingCustomerName"] == "Jordan Example"
    assert body["shippingAddress"] == "742 Sample Avenue" and body["shippingCountryCode"] == "US"
    assert sorted((p["vid"], p["quantity"]) for p in body["products"]) == [("vid-coaster", 1), ("vid-mug", 2)]
    order = _the_order(session_factory)
    # lineItemCost is the extended price: 33.98 for two mugs is 16.99 each.
    assert {l["sku"]: l["unit_price"] for l in order.canonical["lines"]}["CJB-MUG-BLK-11OZ"] == "16.99"
    assert order.platform_order_id == "24-13579-86420"
    assert ebay.grants == [{"grant_type": "refresh_token", "refresh_token": CREDENTIALS["refresh_token"],
                            "scope": "https://api.ebay.com/oauth/api_scope/sell.fulfillment "
                                     "https://api.ebay.com/oauth/api_scope/sell.inventory"}]
    # The next poll overlaps the last one and sees the same state again: nothing new.
    _poll(session_factory, runtime, ebay_store["id"])
    assert len(cj.ops("createOrderV2")) == 1 and len(ebay.grants) == 1


@responses.activate
def test_an_unpaid_order_waits_and_goes_once_paid(client, ebay_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    ebay = FakeEbay(responses.mock, orders=[_order(minutes_ago=40, orderPaymentStatus="PENDING")])
    _poll(session_factory, runtime, ebay_store["id"])
    assert _the_order(session_factory).state == "skipped" and cj.ops("createOrderV2") == []
    ebay.orders["24-13579-86420"] = _order(minutes_ago=20)
    _poll(session_factory, runtime, ebay_store["id"])
    assert len(cj.ops("createOrderV2")) == 1


@responses.activate
def test_every_page_is_read_and_a_token_renewed_mid_poll(client, ebay_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    orders = []
    for i in range(3):
        order = _order(minutes_ago=30 - i)
        order["orderId"] = f"24-13579-8642{i}"
        orders.append(order)
    ebay = FakeEbay(responses.mock, orders=orders, page_size=1)
    _poll(session_factory, runtime, ebay_store["id"])  # gets a token
    ebay.orders["24-13579-86421"] = dict(ebay.orders["24-13579-86421"], lastModifiedDate=(
        utcnow() - timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    ebay.reject_next_call = 1  # the token is revoked before the second poll
    _poll(session_factory, runtime, ebay_store["id"])
    assert len(ebay.grants) == 2
    assert len(cj.ops("createOrderV2")) == 3
    offsets = [q["offset"] for m, p, q in ebay.calls("GET", "/order") if p == "/order"]
    assert offsets[:3] == ["0", "1", "2"]


@responses.activate
def test_a_cancellation_deletes_the_unpaid_cj_order_and_holds_a_paid_one(app_with_store, session_factory):
    from tests.conftest import admin_headers as headers
    client, runtime, _shopify = app_with_store(CJ_AUTO_PAY="false")
    res = client.post("/admin/stores", headers=headers(), json={
        "platform": "ebay", "shop_domain": SELLER, "api_credentials": CREDENTIALS})
    store_id = res.get_json()["data"]["id"]
    client.put("/admin/sku-mappings", headers=headers(), json=[
        {"store_id": store_id, "store_sku": "CJB-MUG-BLK-11OZ", "cj_vid": "vid-mug"},
        {"store_id": store_id, "store_sku": "CJB-COASTER-SET4", "cj_vid": "vid-coaster"}])
    client.put("/admin/shipping-rules", headers=headers(), json={"country_code": "*",
                                                                 "logistic_names": ["CJPacket Ordinary"]})
    cj = FakeCj(responses.mock)
    ebay = FakeEbay(responses.mock, orders=[_order(minutes_ago=40)])
    _poll(session_factory, runtime, store_id)
    assert _the_order(session_factory).state == "submitted"
    ebay.orders["24-13579-86420"] = _order(minutes_ago=20, cancelStatus={"cancelState": "CANCELED"})
    _poll(session_factory, runtime, store_id)
    order = _the_order(session_factory)
    assert order.state == "cancelled" and len(cj.ops("deleteOrder")) == 1


@responses.activate
def test_tracking_is_written_once_also_when_the_first_create_timed_out(client, ebay_store, runtime,
                                                                       session_factory):
    """createShippingFulfillment is not idempotent: the retry reads eBay's fulfillments first."""
    cj = FakeCj(responses.mock)
    ebay = FakeEbay(responses.mock, orders=[_order()])
    _poll(session_factory, runtime, ebay_store["id"])
    order = _the_order(session_factory)
    cj.ship(order.cj_order_number, "9400111899223344556677")
    cj.orders[order.cj_order_number].update(orderStatus="SHIPPED", logisticName="USPS+")
    ebay.timeout_after_create = 1  # eBay stores it, the answer is lost
    post_cj(client, logistic_message(order.cj_order_id, tracking="9400111899223344556677"))
    run_jobs(runtime)
    _make_due(session_factory)
    run_jobs(runtime)
    (fulfillment,) = ebay.fulfillments["24-13579-86420"]
    assert fulfillment["shipmentTrackingNumber"] == "9400111899223344556677"
    assert fulfillment["shippingCarrierCode"] == "USPS"
    assert sorted((l["lineItemId"], l["quantity"]) for l in fulfillment["lineItems"]) == [
        ("10073428153821", 2), ("10073428153822", 1)]
    assert len(ebay.calls("POST", "shipping_fulfillment")) == 1
    assert _the_order(session_factory).state == "fulfilled"


def test_an_ebay_store_is_the_sellers_user_id(client):
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "ebay", "shop_domain": "https://not a user", "api_credentials": CREDENTIALS})
    assert res.status_code == 400 and "eBay user id" in res.get_json()["error"]["message"]


@responses.activate
def test_a_carrier_no_table_fits_holds_the_order_with_the_fix(client, ebay_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    ebay = FakeEbay(responses.mock, orders=[_order()])
    _poll(session_factory, runtime, ebay_store["id"])
    order = _the_order(session_factory)
    cj.ship(order.cj_order_number, "SPX0000000001")
    cj.orders[order.cj_order_number].update(orderStatus="SHIPPED", logisticName="Special Line XYZ")
    post_cj(client, logistic_message(order.cj_order_id, tracking="SPX0000000001"))
    run_jobs(runtime)
    order = _the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "carrier_unmapped"
    assert "CARRIER_CODES" in order.hold_detail and ebay.calls("POST", "shipping_fulfillment") == []


@responses.activate
def test_the_store_shows_its_poll_cursor_and_last_result(client, ebay_store, runtime, session_factory):
    FakeCj(responses.mock)
    FakeEbay(responses.mock, orders=[_order()])
    _poll(session_factory, runtime, ebay_store["id"])
    health = client.get(f"/admin/stores/{ebay_store['id']}", headers=admin_headers()).get_json()["data"][
        "webhook_health"]
    assert health["poll_cursor"] and health["last_poll_result"].startswith("polled 1 order(s)")


@responses.activate
def test_polled_orders_are_not_counted_as_missed_webhooks(client, ebay_store, runtime, session_factory):
    """eBay has no order webhook: its polls must not make /readyz warn about disabled webhooks."""
    FakeCj(responses.mock)
    FakeEbay(responses.mock, orders=[_order()])
    _poll(session_factory, runtime, ebay_store["id"])
    health = client.get(f"/admin/stores/{ebay_store['id']}", headers=admin_headers()).get_json()["data"][
        "webhook_health"]
    assert health["webhooks_look_disabled"] is False and health["orders_only_polling_found"] == 0


@responses.activate
def test_a_cancellation_after_cj_payment_needs_attention(client, ebay_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    ebay = FakeEbay(responses.mock, orders=[_order(minutes_ago=40)])
    _poll(session_factory, runtime, ebay_store["id"])
    assert _the_order(session_factory).state == "paid"  # CJ_AUTO_PAY: paid in the create call
    ebay.orders["24-13579-86420"] = _order(minutes_ago=20, cancelStatus={"cancelState": "CANCELED"})
    _poll(session_factory, runtime, ebay_store["id"])
    order = _the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "cancel_needs_attention"
    assert "Resolution:" in order.hold_detail and cj.ops("deleteOrder") == []


@responses.activate
def test_a_refresh_token_ebay_refuses_marks_the_store_and_readyz(client, ebay_store, runtime, session_factory):
    """Issue 13 (1): a refused refresh token holds the store with a Resolution, and /readyz says so."""
    from service.jobs.worker import beat
    responses.add(responses.POST, "https://api.ebay.com/identity/v1/oauth2/token", status=400, json={
        "error": "invalid_grant", "error_description": "the provided authorization refresh token is invalid"})
    outcome = _poll(session_factory, runtime, ebay_store["id"])
    assert outcome.startswith("needs attention: store_auth_failed") and "Resolution:" in outcome
    health = client.get(f"/admin/stores/{ebay_store['id']}", headers=admin_headers()).get_json()["data"][
        "webhook_health"]
    assert health["poll_needs_attention"] is True
    beat(runtime, worker_id="w")
    ready = client.get("/readyz", headers=admin_headers()).get_json()["data"]
    assert ready["checks"]["stores_whose_poll_needs_attention"] == [ebay_store["id"]]
