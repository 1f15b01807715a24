"""The pricing rule: off unless the merchant sets one; then the store's price follows CJ's through it."""
from __future__ import annotations

from decimal import Decimal

import pytest
import responses
from sqlalchemy import select

from service.pipeline.pricing_rule import rule_price
from service.storage.models import SkuMapping
from tests.conftest import admin_headers, load_fixture, post_cj, run_jobs
from tests.fakes import FakeCj, FakeShopify, FakeWoo

MESSAGES = load_fixture("cj_catalog_messages.json")
VID = "2409150812345678911"


@pytest.mark.parametrize("rule,price,rate,expected", [
    ({"multiplier": "2.5", "ending": ".99"}, "6.80", "1", "17.99"),  # 17.00 is past 16.99: the next .99
    ({"multiplier": "2.5", "ending": ".99"}, "6.70", "1", "16.99"),  # 16.75
    ({"multiplier": "2.5", "ending": ""}, "6.80", "1.08", "15.74"),  # in EUR at 1.08 USD per EUR
    ({"multiplier": "2.5", "add": "1.00", "ending": ".95"}, "6.80", "1.08", "16.95"),  # 16.74
    ({"multiplier": "3", "ending": ".00"}, "5.00", "1", "15.00"),
])
def test_the_rule_and_its_ending(rule, price, rate, expected):
    assert rule_price(rule, cj_price_usd=Decimal(price), usd_per_unit=Decimal(rate)) == Decimal(expected)


def _message(message_id):
    message = dict(MESSAGES["variant_message"], messageId=message_id)
    message["params"] = dict(message["params"], vid=VID)
    return message


@responses.activate
def test_no_rule_no_price_change_then_a_rule_makes_the_price_follow_cj(client, shopify_store, runtime,
                                                                       session_factory):
    cj = FakeCj(responses.mock)
    cj.prices[VID] = 6.8
    shop = FakeShopify(responses.mock)
    shop.add_variant("50011223344502", item=900, levels={1: 50}, price="24.00", product=77)
    shop.add_variant("50011223344503", item=901, levels={1: 5}, price="9.00", product=77)
    store = shopify_store["id"]
    client.put("/admin/sku-mappings", headers=admin_headers(), json=[
        {"store_id": store, "store_variant_id": "50011223344502", "cj_vid": VID},
        {"store_id": store, "store_variant_id": "50011223344503", "cj_vid": VID, "self_stocked": True}])
    post_cj(client, _message("p-1"))
    run_jobs(runtime)
    assert shop.price("50011223344502") == "24.00"  # no rule: the price is the merchant's
    assert not [r for r in shop.requests if r["query"].lstrip().startswith("mutation SetPrices")]

    res = client.patch(f"/admin/stores/{store}", headers=admin_headers(),
                       json={"pricing_rule": {"multiplier": "2.5", "currency": "USD", "ending": ".99"}})
    assert res.status_code == 200 and res.get_json()["data"]["pricing_rule"]["multiplier"] == "2.5000"
    stock_writes_before = len([r for r in shop.requests if r["query"].lstrip().startswith("mutation SetStock")])
    run_jobs(runtime)
    assert shop.price("50011223344502") == "17.99" and shop.price("50011223344503") == "9.00"  # self-stocked
    # A price-only write leaves the stock as the store has it (sales since the last write stand).
    assert len([r for r in shop.requests if r["query"].lstrip().startswith("mutation SetStock")]) == \
        stock_writes_before
    with session_factory() as s:
        mapping = s.scalars(select(SkuMapping).where(SkuMapping.store_variant_id == "50011223344502")).one()
        assert mapping.store_price == Decimal("17.99") and mapping.want_why is None

    cj.prices[VID] = 8.0  # CJ's price rises: 20.00 → 20.99
    post_cj(client, _message("p-2"))
    run_jobs(runtime)
    assert shop.price("50011223344502") == "20.99"

    assert client.patch(f"/admin/stores/{store}", headers=admin_headers(),
                        json={"pricing_rule": None}).status_code == 200
    set_prices = len([r for r in shop.requests if r["query"].lstrip().startswith("mutation SetPrices")])
    shop.inventory["gid://shopify/ProductVariant/50011223344502"]["price"] = "21.50"  # the merchant's own
    cj.prices[VID] = 9.0
    post_cj(client, _message("p-3"))
    run_jobs(runtime)
    assert shop.price("50011223344502") == "21.50"  # off again: left alone
    assert len([r for r in shop.requests if r["query"].lstrip().startswith("mutation SetPrices")]) == set_prices


@responses.activate
def test_woocommerce_regular_price_in_the_stores_currency(client, woo_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    cj.prices[VID] = 6.8
    cj.stock[VID] = {"CN": 12}
    woo = FakeWoo(responses.mock)
    woo.products = {4711: {"id": 4711, "type": "variation", "parent_id": 4700, "sku": "LED-5M",
                           "manage_stock": True, "stock_quantity": 3, "regular_price": "19.00"}}
    client.put("/admin/exchange-rates", headers=admin_headers(), json={"currency": "EUR", "usd_per_unit": "1.08"})
    client.put("/admin/sku-mappings", headers=admin_headers(),
               json={"store_id": woo_store["id"], "store_variant_id": "4711", "cj_vid": VID})
    client.patch(f"/admin/stores/{woo_store['id']}", headers=admin_headers(),
                 json={"pricing_rule": {"multiplier": "2.5", "currency": "EUR", "ending": ".95"}})
    post_cj(client, _message("w-1"))
    run_jobs(runtime)
    assert woo.products[4711]["regular_price"] == "15.95" and woo.products[4711]["stock_quantity"] == 12
    batches = [body for method, path, _q, body in woo.requests if method == "POST" and path.endswith("/batch")]
    assert batches == [{"update": [{"stock_quantity": 12, "regular_price": "15.95", "id": 4711}]}]  # one call


@pytest.mark.parametrize("rule", [
    {"multiplier": "0", "currency": "USD"}, {"multiplier": "2", "currency": "usd"},
    {"multiplier": "2", "currency": "USD", "ending": ".98"}, {"multiplier": "2"},
    {"multiplier": "2", "currency": "USD", "round": "1"}])
def test_a_bad_rule_is_refused(client, shopify_store, rule):
    res = client.patch(f"/admin/stores/{shopify_store['id']}", headers=admin_headers(), json={"pricing_rule": rule})
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "validation_error"


@responses.activate
def test_a_refused_price_is_said_on_the_mapping_and_the_stock_still_written(client, shopify_store, runtime,
                                                                           session_factory):
    """Second review of issue 21: a price Shopify refused was lost without a word."""
    cj = FakeCj(responses.mock)
    cj.prices[VID], cj.stock[VID] = 6.8, {"CN": 9}
    shop = FakeShopify(responses.mock)
    shop.add_variant("50011223344502", item=900, levels={1: 50}, price="24.00", product=77)
    shop.refuse_prices = True
    store = shopify_store["id"]
    client.put("/admin/sku-mappings", headers=admin_headers(),
               json={"store_id": store, "store_variant_id": "50011223344502", "cj_vid": VID})
    client.patch(f"/admin/stores/{store}", headers=admin_headers(),
                 json={"pricing_rule": {"multiplier": "2.5", "currency": "USD", "ending": ".99"}})
    post_cj(client, _message("refused-price"))
    run_jobs(runtime)
    assert shop.available("50011223344502") == 9 and shop.price("50011223344502") == "24.00"
    with session_factory() as s:
        mapping = s.scalars(select(SkuMapping)).one()
        assert "Shopify refused the price (INVALID_INPUT: Access denied)" in mapping.stock_write_error
        assert mapping.store_price is None

