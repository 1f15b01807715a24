"""WooCommerceAdapter: signatures, status mapping, normalization, polling, write-back mechanisms."""
from __future__ import annotations

from datetime import datetime

import pytest
import responses

from adapters.base import ShipmentToWrite, StoreContext, b64_hmac_sha256
from adapters.woocommerce import WooCommerceAdapter
from service.jobs.outcomes import NeedsHuman, RetryLater
from service.outbound_http import OutboundHttp
from tests.conftest import SHOPIFY_SAMPLES, woo_order
from tests.fakes import WOO_BASE, FakeWoo

ADAPTER = WooCommerceAdapter()
STORE = StoreContext(store_id=1, domain="shop.example.com", api_base_url=None,
                     credentials={"consumer_key": "ck_test", "consumer_secret": "cs_test"}, api_version="2026-10")
SHIPMENT = ShipmentToWrite(tracking_number="YT2612345678901234", carrier="YunExpress",
                           tracking_url="https://www.yuntrack.com/parcelTracking?id=YT2612345678901234",
                           store_line_ids=None)
HTTP = OutboundHttp(timeout=5)


def test_hmac_vector():
    (vector,) = [v for v in SHOPIFY_SAMPLES["hmac_test_vectors"] if v["platform"] == "woocommerce"]
    assert b64_hmac_sha256(vector["secret"], vector["raw_body"].encode()) == vector["expected_header_value"]
    headers = {"X-WC-Webhook-Signature": vector["expected_header_value"]}
    assert ADAPTER.verify(vector["raw_body"].encode(), headers, [vector["secret"]])


@pytest.mark.parametrize("status,paid,cancelled", [
    ("processing", True, False), ("completed", True, False), ("pending", False, False), ("on-hold", False, False),
    ("cancelled", False, True), ("refunded", False, True), ("failed", False, True), ("trash", False, True)])
def test_status_mapping(status, paid, cancelled):
    order = ADAPTER.normalize(woo_order(status=status), topic="order.updated")
    assert (order["paid"], order["cancelled"]) == (paid, cancelled)


def test_normalize_sample():
    order = ADAPTER.normalize(woo_order(), topic="order.created")
    assert order["store_order_id"] == "4821" and order["currency"] == "EUR" and order["total_price"] == "44.80"
    assert order["updated_at"] == "2026-11-28T19:05:34+00:00"  # *_gmt is UTC
    earbuds, cable = order["lines"]
    assert (earbuds["variant_id"], earbuds["sku"], earbuds["unit_price"]) == ("1205", "CJ-EARBUDS-PRO-WHT", "29.9")
    assert cable["variant_id"] == "1188"  # simple product: variation_id 0 → the product id
    address = order["shipping_address"]
    assert address["address2"] == "2. OG" and address["country_code"] == "DE" and address["zip"] == "04109"
    assert address["phone"] == "+4934155501234"  # shipping phone empty → billing phone
    assert order["email"] == "jonas.becker@example.net"


def test_billing_address_is_used_when_shipping_is_empty():
    body = woo_order()
    body["shipping"] = {k: "" for k in body["shipping"]}
    assert ADAPTER.normalize(body, topic="order.created")["shipping_address"]["address1"] == "Lindenstrasse 12"


def test_html_entities_in_names_are_decoded():
    body = woo_order()
    body["line_items"][0]["name"] = "Earbuds &ndash; White"
    assert ADAPTER.normalize(body, topic="order.created")["lines"][0]["title"] == "Earbuds – White"


def test_domain_normalization():
    assert ADAPTER.normalize_domain("https://Shop.Example.com/") == "shop.example.com"
    assert ADAPTER.normalize_domain("http://example.com:8080/shop/") == "example.com:8080/shop"
    assert ADAPTER.normalize_domain("shop.example.com") == "shop.example.com"


def _order():
    return ADAPTER.normalize(woo_order(), topic="order.created")


@responses.activate
def test_shipment_tracking_mechanism_attaches_then_notes_then_completes():
    woo = FakeWoo(responses.mock, mechanism="shipment_tracking")
    result = ADAPTER.write_back(http=HTTP, store=STORE, order=_order(), shipment=SHIPMENT)
    assert result.outcome == "created" and result.adapter_state == {"tracking_mechanism": "shipment_tracking"}
    (tracking,) = woo.trackings[4821]
    assert tracking["tracking_link"] == SHIPMENT.tracking_url and tracking["tracking_provider"] == "YunExpress"
    posted = woo.calls("POST", "shipment-trackings")[0][3]
    # Issue 23 (7): the literal address; a '%1$s' placeholder was shown to customers verbatim.
    assert posted["custom_tracking_link"] == SHIPMENT.tracking_url and "%" not in posted["custom_tracking_link"]
    (note,) = woo.notes[4821]
    assert note["customer_note"] is False and "YT2612345678901234" in note["note"]
    writes = [(m, p) for m, p, _q, _b in woo.requests if m in ("POST", "PUT")]
    assert writes == [("POST", "/wc-shipment-tracking/v3/orders/4821/shipment-trackings"),
                      ("POST", "/wc/v3/orders/4821/notes"), ("PUT", "/wc/v3/orders/4821")]
    assert woo.orders[4821]["status"] == "completed"


@responses.activate
def test_same_tracking_is_never_attached_twice():
    woo = FakeWoo(responses.mock)
    store = StoreContext(**{**STORE.__dict__, "adapter_state": {"tracking_mechanism": "shipment_tracking"}})
    ADAPTER.write_back(http=HTTP, store=store, order=_order(), shipment=SHIPMENT)
    again = ADAPTER.write_back(http=HTTP, store=store, order=_order(), shipment=SHIPMENT)
    assert again.outcome == "already_present" and again.adapter_state is None
    assert len(woo.trackings[4821]) == 1 and len(woo.notes[4821]) == 1
    assert len(woo.calls("PUT")) == 1  # already completed: not set again
    assert [r for r in woo.requests if r[1] == "/"] == []  # the cached mechanism: no REST index read


@responses.activate
def test_native_fulfillments_mechanism():
    woo = FakeWoo(responses.mock, mechanism="native_fulfillments")
    result = ADAPTER.write_back(http=HTTP, store=STORE, order=_order(), shipment=SHIPMENT)
    assert result.adapter_state == {"tracking_mechanism": "native_fulfillments"}
    (call,) = woo.calls("POST", "/fulfillments")
    assert call[2] == {"notify_customer": "true"}
    assert call[3]["meta_data"] == [
        {"key": "_items", "value": [{"item_id": 7710, "qty": 1}, {"item_id": 7711, "qty": 2}]},
        {"key": "_tracking_number", "value": "YT2612345678901234"},
        {"key": "_tracking_url", "value": SHIPMENT.tracking_url}]
    assert woo.orders[4821]["status"] == "completed"


@responses.activate
def test_note_only_fallback_tells_the_customer():
    woo = FakeWoo(responses.mock, mechanism="none")
    result = ADAPTER.write_back(http=HTTP, store=STORE, order=_order(), shipment=SHIPMENT)
    assert result.outcome == "created" and result.adapter_state == {"tracking_mechanism": "note_only"}
    (note,) = woo.notes[4821]
    assert note["customer_note"] is True and SHIPMENT.tracking_url in note["note"]
    assert woo.orders[4821]["status"] == "completed"


@responses.activate
def test_partial_shipment_does_not_complete_the_order():
    woo = FakeWoo(responses.mock)
    partial = ShipmentToWrite("T1", "CJPacket", None, store_line_ids=["7710"], final=False)
    ADAPTER.write_back(http=HTTP, store=STORE, order=_order(), shipment=partial)
    assert woo.calls("PUT") == [] and woo.orders[4821]["status"] == "processing"


@responses.activate
def test_polling_reads_every_page_in_gmt():
    orders = [woo_order(id=i, date_modified_gmt=f"2026-11-28T10:{i // 60:02d}:{i % 60:02d}") for i in range(1, 231)]
    woo = FakeWoo(responses.mock, orders=orders)
    found = ADAPTER.list_changed_orders(http=HTTP, store=STORE, since=datetime(2026, 11, 28, 9),
                                        until=datetime(2026, 11, 28, 11))
    assert [o["id"] for o in found] == list(range(1, 231))
    pages = woo.calls("GET", "/wc/v3/orders")
    assert [c[2]["page"] for c in pages] == ["1", "2", "3"]
    assert pages[0][2]["dates_are_gmt"] == "true" and pages[0][2]["modified_after"] == "2026-11-28T09:00:00"


@responses.activate
def test_register_webhooks_is_idempotent_and_reactivates_disabled_ones():
    woo = FakeWoo(responses.mock)
    url = "https://bridge.example.com/webhooks/woocommerce"
    first = ADAPTER.register_webhooks(http=HTTP, store=STORE, delivery_url=url, secret="s" * 40)
    assert first["created"] == ["order.created", "order.updated", "order.deleted", "order.restored"]
    assert woo.webhooks[0]["secret"] == "s" * 40 and woo.webhooks[0]["delivery_url"] == url
    woo.webhooks[1]["status"] = "disabled"  # WooCommerce disables a webhook after repeated failures
    second = ADAPTER.register_webhooks(http=HTTP, store=STORE, delivery_url=url, secret="s" * 40)
    assert second == {"created": [], "reactivated": ["order.updated"],
                      "already_present": ["order.created", "order.deleted", "order.restored"]}
    assert len(woo.webhooks) == 4 and woo.webhooks[1]["status"] == "active"


@responses.activate
def test_errors_are_classified():
    responses.add(responses.GET, f"{WOO_BASE}/wc/v3/orders/1", status=401, json={"code": "woocommerce_rest_cannot_view"})
    responses.add(responses.GET, f"{WOO_BASE}/wc/v3/orders/2", status=503)
    responses.add(responses.GET, f"{WOO_BASE}/wc/v3/orders/3", status=429, headers={"Retry-After": "7"})
    with pytest.raises(NeedsHuman) as auth:
        ADAPTER.fetch_order(http=HTTP, store=STORE, store_order_id="1")
    assert auth.value.reason == "store_auth_failed" and "auth_in_query" in str(auth.value)
    with pytest.raises(RetryLater):
        ADAPTER.fetch_order(http=HTTP, store=STORE, store_order_id="2")
    with pytest.raises(RetryLater) as limited:
        ADAPTER.fetch_order(http=HTTP, store=STORE, store_order_id="3")
    assert limited.value.retry_after == 7.0 and limited.value.count_attempt is False
    missing = StoreContext(1, "shop.example.com", None, {}, "2026-10")
    with pytest.raises(NeedsHuman) as creds:
        ADAPTER.fetch_order(http=HTTP, store=missing, store_order_id="1")
    assert creds.value.reason == "store_credentials_missing"


@responses.activate
def test_keys_in_query_when_the_host_strips_authorization():
    responses.add(responses.GET, f"{WOO_BASE}/wc/v3/orders/5", json={"id": 5})
    store = StoreContext(1, "shop.example.com", None, {"consumer_key": "ck", "consumer_secret": "cs",
                                                       "auth_in_query": "true"}, "2026-10")
    ADAPTER.fetch_order(http=HTTP, store=store, store_order_id="5")
    request = responses.calls[0].request
    assert "consumer_key=ck" in request.url and "Authorization" not in request.headers


@pytest.mark.parametrize("value", [":A", "https://", "http://host:notaport/"])
def test_malformed_site_urls_are_refused(value):
    with pytest.raises(ValueError):
        ADAPTER.normalize_domain(value)


def test_malformed_source_header_is_401_and_admin_url_400(client):
    res = client.post("/webhooks/woocommerce", data=b"{}", headers={"X-WC-Webhook-Source": ":A",
                                                                   "X-WC-Webhook-Signature": "x"})
    assert res.status_code == 401
    from tests.conftest import admin_headers
    res = client.post("/admin/stores", headers=admin_headers(), json={"platform": "woocommerce", "site_url": ":A"})
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "validation_error"


@responses.activate
def test_a_removed_tracking_plugin_is_detected_again_not_held():
    """Issue 23 (9): the method was detected once; a removed plugin then gave 404s and held every order."""
    woo = FakeWoo(responses.mock, mechanism="native_fulfillments")  # Shipment Tracking was uninstalled
    store = StoreContext(**{**STORE.__dict__, "adapter_state": {"tracking_mechanism": "shipment_tracking"}})
    result = ADAPTER.write_back(http=HTTP, store=store, order=_order(), shipment=SHIPMENT)
    assert result.outcome == "created" and result.details["mechanism"] == "native_fulfillments"
    assert result.adapter_state["tracking_mechanism"] == "native_fulfillments"
    assert result.adapter_state["tracking_redetected_from"] == "shipment_tracking"
    assert len(woo.fulfillments[4821]) == 1
