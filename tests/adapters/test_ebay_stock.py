"""eBay stock writes: CJ's stock reaches an eBay listing through the Inventory API, by the seller's SKU."""
from __future__ import annotations

import responses

from service.storage.models import SkuMapping
from tests.conftest import admin_headers, load_fixture, post_cj, run_jobs
from tests.fakes import FakeCj, FakeEbay
from tests.pipeline.test_ebay_flow import ebay_store  # noqa: F401  (the fixture)

MESSAGES = load_fixture("cj_catalog_messages.json")
VID = "2409150812345678911"  # the STOCK message's variant


def _map(client, store_id, **fields) -> dict:
    res = client.put("/admin/sku-mappings", headers=admin_headers(),
                     json=dict({"store_id": store_id, "cj_vid": VID}, **fields))
    assert res.status_code == 200, res.get_json()
    return res.get_json()["data"]["mappings"][0]


def _row(session_factory, mapping_id) -> SkuMapping:
    with session_factory() as s:
        return s.get(SkuMapping, mapping_id)


def _updates(ebay):
    return [body for method, path, body in ebay.inventory_requests if path == "/bulk_update_price_quantity"]


@responses.activate
def test_a_stock_message_sets_the_ebay_quantity(client, runtime, session_factory, ebay_store):  # noqa: F811
    """Issue 21: eBay through its inventory endpoints."""
    cj, ebay = FakeCj(responses.mock), FakeEbay(responses.mock)
    cj.stock[VID] = {"CN": 3, "US": 4}
    ebay.inventory["CJB-LED-5M"] = {"quantity": 40, "offers": [{"offerId": "9001", "price": "24.00",
                                                                 "currency": "USD"}]}
    mapping = _map(client, ebay_store["id"], store_sku="CJB-LED-5M")
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)

    assert _updates(ebay) == [{"requests": [{"sku": "CJB-LED-5M", "shipToLocationAvailability": {"quantity": 7}}]}]
    assert ebay.inventory["CJB-LED-5M"]["quantity"] == 7
    row = _row(session_factory, mapping["id"])
    assert (row.store_quantity, row.store_quantity_why, row.stock_write_error) == (7, "webhook", None)
    # The token asked for both scopes; the seller's consent had both.
    assert "sell.inventory" in ebay.grants[0]["scope"] and "sell.fulfillment" in ebay.grants[0]["scope"]

    # Unchanged: read, nothing sent. A sale on eBay since, then a new CJ figure: written from eBay's figure.
    post_cj(client, dict(MESSAGES["stock_message"], messageId="again"))
    run_jobs(runtime)
    assert len(_updates(ebay)) == 1
    ebay.inventory["CJB-LED-5M"]["quantity"] = 6
    cj.stock[VID] = {"CN": 1, "US": 1}
    post_cj(client, dict(MESSAGES["stock_message"], messageId="lower"))
    run_jobs(runtime)
    assert ebay.inventory["CJB-LED-5M"]["quantity"] == 2 and len(_updates(ebay)) == 2


@responses.activate
def test_a_seller_hub_listing_and_a_mapping_without_sku_are_skipped_with_a_resolution(
        client, runtime, session_factory, ebay_store):  # noqa: F811
    cj, ebay = FakeCj(responses.mock), FakeEbay(responses.mock)
    cj.stock[VID] = {"CN": 5}
    ebay.inventory["CJB-LED-5M"] = {"quantity": 1, "offers": []}
    ebay.refuse_skus.add("CJB-LED-5M")
    seller_hub = _map(client, ebay_store["id"], store_sku="SELLER-HUB-ONLY")
    by_item = _map(client, ebay_store["id"], store_variant_id="110551234567")
    refused = _map(client, ebay_store["id"], store_sku="CJB-LED-5M")
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)

    row = _row(session_factory, seller_hub["id"])
    assert row.store_quantity_why == "skipped" and "Trading API" in row.stock_write_error
    assert "Resolution: migrate the listing" in row.stock_write_error
    row = _row(session_factory, by_item["id"])
    assert row.store_quantity_why == "skipped" and "has none" in row.stock_write_error
    row = _row(session_factory, refused["id"])
    assert row.store_quantity_why == "skipped" and "eBay refused the update of SKU CJB-LED-5M (25001)" in \
        row.stock_write_error
    assert [r["sku"] for r in ebay.inventory_requests[0][2]["requests"]] == ["SELLER-HUB-ONLY", "CJB-LED-5M"]


@responses.activate
def test_a_consent_without_the_inventory_scope_keeps_orders_and_says_why_stock_is_not_written(
        client, runtime, session_factory, ebay_store):  # noqa: F811
    cj, ebay = FakeCj(responses.mock), FakeEbay(responses.mock)
    ebay.consented = {"sell.fulfillment"}  # the seller consented before stock sync existed
    cj.stock[VID] = {"CN": 5}
    ebay.inventory["CJB-LED-5M"] = {"quantity": 1, "offers": []}
    mapping = _map(client, ebay_store["id"], store_sku="CJB-LED-5M")
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)
    # The refresh asked for both scopes, was refused the inventory one, and got an orders-only token.
    assert [len(g["scope"].split()) for g in ebay.grants[:2]] == [2, 1]
    row = _row(session_factory, mapping["id"])
    assert row.store_quantity is None and "sell.inventory" in row.stock_write_error
    assert "Resolution:" in row.stock_write_error and ebay.inventory["CJB-LED-5M"]["quantity"] == 1


@responses.activate
def test_a_pricing_rule_sets_the_offer_price(client, runtime, session_factory, ebay_store):  # noqa: F811
    cj, ebay = FakeCj(responses.mock), FakeEbay(responses.mock)
    cj.stock[VID] = {"CN": 9}
    cj.prices[VID] = 6.8
    ebay.inventory["CJB-LED-5M"] = {"quantity": 9, "offers": [{"offerId": "9001", "price": "24.00",
                                                                "currency": "USD"}]}
    mapping = _map(client, ebay_store["id"], store_sku="CJB-LED-5M")
    res = client.patch(f"/admin/stores/{ebay_store['id']}", headers=admin_headers(),
                       json={"pricing_rule": {"multiplier": "2.5", "currency": "USD", "ending": ".99"}})
    assert res.status_code == 200, res.get_json()
    message = dict(MESSAGES["variant_message"], messageId="price-1")
    post_cj(client, dict(message, params=dict(message["params"], vid=VID)))
    run_jobs(runtime)
    assert _updates(ebay) == [{"requests": [{"sku": "CJB-LED-5M", "offers": [
        {"offerId": "9001", "price": {"value": "17.99", "currency": "USD"}}]}]}]  # stock matched: price only
    assert ebay.inventory["CJB-LED-5M"]["offers"][0]["price"] == "17.99"
    row = _row(session_factory, mapping["id"])
    assert str(row.store_price) == "17.99" and row.want_why is None
