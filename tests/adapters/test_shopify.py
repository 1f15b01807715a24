"""ShopifyAdapter: signatures, normalization into the canonical order, GraphQL write-back."""
from __future__ import annotations

import copy
import json

import pytest
import responses

from adapters.base import ShipmentToWrite, StoreContext, b64_hmac_sha256
from adapters.shopify import ShopifyAdapter
from service.canonical import CanonicalOrderError
from service.jobs.outcomes import NeedsHuman, RetryLater
from service.outbound_http import OutboundHttp
from tests.conftest import SHOPIFY_SAMPLES
from tests.fakes import FakeShopify

ADAPTER = ShopifyAdapter()
GRAPHQL = "https://acme-gadgets-demo.myshopify.com/admin/api/2026-10/graphql.json"
STORE = StoreContext(store_id=1, domain="acme-gadgets-demo.myshopify.com", api_base_url=None,
                     credentials={"access_token": "shpat_EXAMPLE_NOT_REAL"}, api_version="2026-10")


@pytest.mark.parametrize("vector", [v for v in SHOPIFY_SAMPLES["hmac_test_vectors"] if v["platform"] == "shopify"])
def test_hmac_test_vectors(vector):
    assert b64_hmac_sha256(vector["secret"], vector["raw_body"].encode()) == vector["expected_header_value"]
    headers = {"X-Shopify-Hmac-Sha256": vector["expected_header_value"]}
    assert ADAPTER.verify(vector["raw_body"].encode(), headers, ["wrong-one", vector["secret"]])
    assert not ADAPTER.verify(vector["raw_body"].encode() + b" ", headers, [vector["secret"]])
    assert not ADAPTER.verify(vector["raw_body"].encode(), {}, [vector["secret"]])


def test_normalize_sample_order():
    order = ADAPTER.normalize(SHOPIFY_SAMPLES["shopify_orders_create"]["body"], topic="orders/create")
    assert order["store_order_id"] == "7012345678901" and order["name"] == "#1057"
    assert order["paid"] is True and order["cancelled"] is False and order["test"] is False
    assert order["total_price"] == "61.47" and order["shipping_price"] == "6.49" and order["currency"] == "USD"
    assert order["updated_at"] == "2026-11-28T14:05:33-05:00"
    first, second = order["lines"]
    assert first == {"line_id": "16011223344001", "line_ref": "gid://shopify/LineItem/16011223344001",
                     "variant_id": "50011223344501", "product_id": "9101112131401", "sku": "CJ-LED-STRIP-5M-RGB",
                     "title": "RGB LED Strip - 5 m", "quantity": 2, "unit_price": "19.99",
                     "requires_shipping": True}
    assert second["sku"] is None  # "" in the payload: mapping falls back to the variant id
    assert order["shipping_address"]["country_code"] == "US" and order["shipping_address"]["zip"] == "97477"


def test_normalize_cancelled_sample_and_null_address():
    body = copy.deepcopy(SHOPIFY_SAMPLES["shopify_orders_cancelled"]["body"])
    body["shipping_address"] = None
    order = ADAPTER.normalize(body, topic="orders/cancelled")
    assert order["cancelled"] is True and order["paid"] is False and order["shipping_address"] is None
    assert order["lines"][0]["quantity"] == 0  # current_quantity: the unit was removed


def test_normalize_rejects_payloads_that_are_not_orders():
    with pytest.raises(CanonicalOrderError):
        ADAPTER.normalize({"id": 1, "line_items": []}, topic="orders/create")
    with pytest.raises(ValueError):
        ADAPTER.normalize([1, 2], topic="orders/create")


def test_delivery_keys_and_topics():
    headers = {"X-Shopify-Topic": "orders/paid", "X-Shopify-Shop-Domain": "a.myshopify.com",
               "X-Shopify-Webhook-Id": "w1", "X-Shopify-Event-Id": "e1"}
    info = ADAPTER.identify(headers)
    keys = ADAPTER.delivery_keys(info, headers, {"id": 7, "updated_at": "2026-11-28T16:35:02-05:00"})
    assert keys == ["webhook-id:w1", "event-id:orders/paid:e1", "content:orders/paid:7:2026-11-28T16:35:02-05:00",
                    # the order state in UTC, as polling (GraphQL) states it
                    "order-version:7:2026-11-28T21:35:02Z:orders/paid"]
    assert ADAPTER.event_kind("orders/paid") == "order" and ADAPTER.event_kind("app/uninstalled") == "uninstalled"
    assert ADAPTER.event_kind("customers/update") == "ignored"


def _canonical():
    order = ADAPTER.normalize(SHOPIFY_SAMPLES["shopify_orders_create"]["body"], topic="orders/create")
    order["cj_order_id"] = "2509231418372749100"
    return order


SHIPMENT = ShipmentToWrite(tracking_number="YT2612345678901234", carrier="YunExpress",
                           tracking_url="https://www.yuntrack.com/parcelTracking?id=YT2612345678901234",
                           store_line_ids=None)


@responses.activate
def test_write_back_creates_one_fulfillment_with_the_sample_shape():
    shop = FakeShopify(responses.mock)
    result = ADAPTER.write_back(http=OutboundHttp(timeout=5), store=STORE, order=_canonical(), shipment=SHIPMENT)
    assert result.outcome == "created" and result.fulfillment_id == "gid://shopify/Fulfillment/1"
    sent = shop.operations("CreateFulfillment")[0]["variables"]
    expected = SHOPIFY_SAMPLES["shopify_graphql_fulfillment_create"]["request"]["variables"]
    assert sent["fulfillment"] == expected["fulfillment"]


@responses.activate
def test_write_back_skips_when_the_tracking_number_is_already_there():
    shop = FakeShopify(responses.mock)
    http = OutboundHttp(timeout=5)
    ADAPTER.write_back(http=http, store=STORE, order=_canonical(), shipment=SHIPMENT)
    again = ADAPTER.write_back(http=http, store=STORE, order=_canonical(), shipment=SHIPMENT)
    assert again.outcome == "already_present" and len(shop.operations("CreateFulfillment")) == 1


@responses.activate
def test_write_back_only_fulfils_the_lines_cj_shipped():
    shop = FakeShopify(responses.mock)
    shipment = ShipmentToWrite("T1", "CJPacket", None, store_line_ids=["16011223344002"])
    ADAPTER.write_back(http=OutboundHttp(timeout=5), store=STORE, order=_canonical(), shipment=shipment)
    groups = shop.operations("CreateFulfillment")[0]["variables"]["fulfillment"]["lineItemsByFulfillmentOrder"]
    assert groups[0]["fulfillmentOrderLineItems"] == [
        {"id": "gid://shopify/FulfillmentOrderLineItem/13579246802", "quantity": 1}]
    assert shop.operations("CreateFulfillment")[0]["variables"]["fulfillment"]["trackingInfo"] == {
        "company": "CJPacket", "number": "T1"}


@responses.activate
@pytest.mark.parametrize("status,actions,reason,needle", [
    ("CLOSED", ["CREATE_FULFILLMENT"], "writeback_rejected", "are CLOSED"),
    ("ON_HOLD", ["RELEASE_HOLD"], "fulfillment_on_hold", "on hold (AWAITING_PAYMENT: waiting for the bank)"),
    ("OPEN", ["REQUEST_FULFILLMENT"], "fulfillment_not_assigned", "assigned to Main Warehouse"),
])
def test_fulfillment_orders_that_cannot_take_tracking_hold_with_the_reason(status, actions, reason, needle):
    """Issue 23 (5): these were answered "nothing to fulfill" and the order was marked fulfilled, no tracking."""
    shop = FakeShopify(responses.mock)
    fo = shop.order["fulfillmentOrders"]["nodes"][0]
    fo.update(status=status, supportedActions=[{"action": a} for a in actions],
              fulfillmentHolds=[{"reason": "AWAITING_PAYMENT", "reasonNotes": "waiting for the bank"}])
    fo["assignedLocation"]["name"] = "Main Warehouse"
    with pytest.raises(NeedsHuman) as err:
        ADAPTER.write_back(http=OutboundHttp(timeout=5), store=STORE, order=_canonical(), shipment=SHIPMENT)
    assert err.value.reason == reason and needle in str(err.value) and "Resolution:" in str(err.value)
    assert SHIPMENT.tracking_number in str(err.value) and shop.operations("CreateFulfillment") == []


@responses.activate
def test_a_scheduled_fulfillment_order_is_written_when_it_opens():
    from datetime import timedelta
    from service.timeutil import utcnow
    shop = FakeShopify(responses.mock)
    opens = utcnow() + timedelta(days=2)
    shop.order["fulfillmentOrders"]["nodes"][0].update(status="SCHEDULED", fulfillAt=opens.strftime(
        "%Y-%m-%dT%H:%M:%SZ"), supportedActions=[{"action": "MARK_AS_OPEN"}])
    with pytest.raises(RetryLater) as later:
        ADAPTER.write_back(http=OutboundHttp(timeout=5), store=STORE, order=_canonical(), shipment=SHIPMENT)
    assert later.value.retry_after == pytest.approx(2 * 86400, abs=120) and later.value.count_attempt is False


@responses.activate
def test_items_fulfilled_elsewhere_without_our_number_are_not_taken_for_done():
    shop = FakeShopify(responses.mock)
    for node in shop.order["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"]:
        node["remainingQuantity"] = 0
    shop.order["fulfillmentOrders"]["nodes"][0]["status"] = "CLOSED"
    with pytest.raises(NeedsHuman) as err:
        ADAPTER.write_back(http=OutboundHttp(timeout=5), store=STORE, order=_canonical(), shipment=SHIPMENT)
    assert "fulfilled already, without tracking" in str(err.value)


@responses.activate
def test_user_errors_need_a_human():
    responses.add(responses.POST, GRAPHQL, json={"data": {"order": SHOPIFY_SAMPLES[
        "shopify_graphql_fulfillment_orders_query"]["response"]["data"]["order"]}})
    responses.add(responses.POST, GRAPHQL, json=SHOPIFY_SAMPLES["shopify_graphql_fulfillment_create"][
        "response_user_error_example"])
    with pytest.raises(NeedsHuman) as err:
        ADAPTER.write_back(http=OutboundHttp(timeout=5), store=STORE, order=_canonical(), shipment=SHIPMENT)
    assert "unfulfillable status= closed" in str(err.value) and "Resolution:" in str(err.value)


@responses.activate
def test_throttled_and_429_wait_without_counting_an_attempt():
    responses.add(responses.POST, GRAPHQL, json=SHOPIFY_SAMPLES["shopify_graphql_throttled_response"])
    responses.add(responses.POST, GRAPHQL, status=429, headers={"Retry-After": "4"})
    with pytest.raises(RetryLater) as first:
        ADAPTER.write_back(http=OutboundHttp(timeout=5), store=STORE, order=_canonical(), shipment=SHIPMENT)
    assert first.value.count_attempt is False and first.value.retry_after == pytest.approx(6.12)
    with pytest.raises(RetryLater) as second:
        ADAPTER.write_back(http=OutboundHttp(timeout=5), store=STORE, order=_canonical(), shipment=SHIPMENT)
    assert second.value.retry_after == 4.0


@responses.activate
def test_bad_credentials_need_a_human():
    responses.add(responses.POST, GRAPHQL, status=401, json={"errors": "[API] Invalid API key or access token"})
    with pytest.raises(NeedsHuman) as err:
        ADAPTER.write_back(http=OutboundHttp(timeout=5), store=STORE, order=_canonical(), shipment=SHIPMENT)
    assert err.value.reason == "store_auth_failed"
    missing = StoreContext(1, "acme-gadgets-demo.myshopify.com", None, {}, "2026-10")
    with pytest.raises(NeedsHuman) as err:
        ADAPTER.write_back(http=OutboundHttp(timeout=5), store=missing, order=_canonical(), shipment=SHIPMENT)
    assert err.value.reason == "store_credentials_missing"


@responses.activate
def test_api_base_url_override_is_used():
    responses.add(responses.POST, "http://127.0.0.1:8765/admin/api/2026-10/graphql.json",
                  json={"data": {"order": {"fulfillments": [{"id": "f", "trackingInfo": [
                      {"number": SHIPMENT.tracking_number}]}], "fulfillmentOrders": {"nodes": []}}}})
    store = StoreContext(1, "acme-gadgets-demo.myshopify.com", "http://127.0.0.1:8765",
                         {"access_token": "t"}, "2026-10")
    result = ADAPTER.write_back(http=OutboundHttp(timeout=5), store=store, order=_canonical(), shipment=SHIPMENT)
    assert result.outcome == "already_present"
    assert json.loads(responses.calls[0].request.body)["variables"] == {"orderId": "gid://shopify/Order/7012345678901"}
