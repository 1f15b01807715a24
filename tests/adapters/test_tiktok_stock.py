"""TikTok Shop stock writes: CJ's stock reaches a TikTok SKU through Inventory Search and Update Inventory."""
from __future__ import annotations

import responses

from service.storage.models import SkuMapping
from tests.conftest import admin_headers, load_fixture, post_cj, run_jobs
from tests.fakes import FakeCj, FakeTikTok
from tests.pipeline.test_tiktok_flow import register

MESSAGES = load_fixture("cj_catalog_messages.json")
VID = "2409150812345678911"  # the STOCK message's variant; the sample shop maps it by SKU (CJB-COASTER-SET4)
SKU_ID = "1729512345678901002"
PRODUCT_ID = "1729512345678900002"
WAREHOUSE = "7068517275539719942"


def _tiktok_mapping(client, store_id, **fields) -> dict:
    res = client.put("/admin/sku-mappings", headers=admin_headers(),
                     json=dict({"store_id": store_id, "store_variant_id": SKU_ID, "cj_vid": VID}, **fields))
    assert res.status_code == 200, res.get_json()
    return res.get_json()["data"]["mappings"][0]


def _row(session_factory, mapping_id) -> SkuMapping:
    with session_factory() as s:
        return s.get(SkuMapping, mapping_id)


@responses.activate
def test_a_stock_message_sets_the_tiktok_sku_quantity(client, runtime, session_factory):
    """Issue 21: eBay and TikTok Shop through their inventory endpoints."""
    cj, tiktok = FakeCj(responses.mock), FakeTikTok(responses.mock)
    cj.stock[VID] = {"CN": 3, "US": 4}
    tiktok.add_sku(SKU_ID, product_id=PRODUCT_ID, warehouses={WAREHOUSE: 40})
    store_id = register(client)
    mapping = _tiktok_mapping(client, store_id)
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)

    assert tiktok.inventory_updates == [(PRODUCT_ID, {"skus": [
        {"id": SKU_ID, "inventory": [{"warehouse_id": WAREHOUSE, "quantity": 7}]}]})]
    assert tiktok.skus[SKU_ID]["warehouses"] == {WAREHOUSE: 7}
    searched = [q for path, q in tiktok.requests if path == "/product/202309/inventory/search"]
    assert len(searched) == 1 and searched[0]["shop_cipher"]  # a signed call, like every other
    row = _row(session_factory, mapping["id"])
    assert (row.store_quantity, row.store_quantity_why, row.stock_write_error) == (7, "webhook", None)
    assert row.store_stock_ref == {"product_id": PRODUCT_ID, "warehouse_id": WAREHOUSE}

    # The same figure again writes nothing (read first, unchanged); a sale on TikTok then a new figure does.
    post_cj(client, dict(MESSAGES["stock_message"], messageId="again"))
    run_jobs(runtime)
    assert len(tiktok.inventory_updates) == 1
    tiktok.skus[SKU_ID]["warehouses"][WAREHOUSE] = 6  # one sold on TikTok
    cj.stock[VID] = {"CN": 2, "US": 3}
    post_cj(client, dict(MESSAGES["stock_message"], messageId="lower"))
    run_jobs(runtime)
    assert tiktok.skus[SKU_ID]["warehouses"] == {WAREHOUSE: 5} and len(tiktok.inventory_updates) == 2


@responses.activate
def test_a_sku_at_several_warehouses_waits_for_the_stores_location(client, runtime, session_factory):
    cj, tiktok = FakeCj(responses.mock), FakeTikTok(responses.mock)
    cj.stock[VID] = {"CN": 9}
    tiktok.add_sku(SKU_ID, product_id=PRODUCT_ID, warehouses={WAREHOUSE: 40, "7068517275539719999": 5})
    store_id = register(client)
    mapping = _tiktok_mapping(client, store_id)
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)
    assert tiktok.inventory_updates == []  # never a guess at which warehouse
    row = _row(session_factory, mapping["id"])
    assert row.store_quantity_why == "skipped" and "stocked at 2 warehouses" in row.stock_write_error
    assert "stock_location_id" in row.stock_write_error

    res = client.patch(f"/admin/stores/{store_id}", headers=admin_headers(),
                       json={"stock_location_id": "7068517275539719999"})
    assert res.status_code == 200, res.get_json()
    run_jobs(runtime)  # a new location decides again at once
    assert tiktok.skus[SKU_ID]["warehouses"] == {WAREHOUSE: 40, "7068517275539719999": 9}
    assert _row(session_factory, mapping["id"]).store_quantity == 9


@responses.activate
def test_a_sku_tiktok_refuses_does_not_cost_the_others(client, runtime, session_factory):
    cj, tiktok = FakeCj(responses.mock), FakeTikTok(responses.mock)
    other_vid, other_sku = "2409150812345678922", "1729512345678901003"
    cj.stock[VID] = {"CN": 9}
    cj.stock[other_vid] = {"CN": 11}
    tiktok.add_sku(SKU_ID, product_id=PRODUCT_ID, warehouses={WAREHOUSE: 40})
    tiktok.add_sku(other_sku, product_id=PRODUCT_ID, warehouses={WAREHOUSE: 1}, live=False)  # a frozen SKU
    store_id = register(client)
    good = _tiktok_mapping(client, store_id)
    frozen = _tiktok_mapping(client, store_id, store_variant_id=other_sku, cj_vid=other_vid)
    missing = _tiktok_mapping(client, store_id, store_variant_id="1729512345678909999", cj_vid="2409150812345678933")
    cj.stock["2409150812345678933"] = {"CN": 5}
    assert client.post(f"/admin/stores/{store_id}/stock/resync", headers=admin_headers()).status_code == 202
    run_jobs(runtime)

    (update,) = tiktok.inventory_updates  # one call for the product's two SKUs
    assert sorted(s["id"] for s in update[1]["skus"]) == sorted([SKU_ID, other_sku])
    assert _row(session_factory, good["id"]).store_quantity == 9
    row = _row(session_factory, frozen["id"])
    assert row.store_quantity_why == "skipped" and "refused the stock of SKU" in row.stock_write_error
    assert "code 12052048" in row.stock_write_error
    row = _row(session_factory, missing["id"])
    assert row.store_quantity_why == "skipped" and row.stock_write_error.startswith("TikTok Shop lists no SKU")


@responses.activate
def test_a_pricing_rule_sets_the_tiktok_price(client, runtime, session_factory):
    cj, tiktok = FakeCj(responses.mock), FakeTikTok(responses.mock)
    cj.stock[VID] = {"CN": 9}
    cj.prices[VID] = 6.8
    tiktok.add_sku(SKU_ID, product_id=PRODUCT_ID, warehouses={WAREHOUSE: 9}, price="24.00")
    store_id = register(client)
    mapping = _tiktok_mapping(client, store_id)
    res = client.patch(f"/admin/stores/{store_id}", headers=admin_headers(),
                       json={"pricing_rule": {"multiplier": "2.5", "currency": "USD", "ending": ".99"}})
    assert res.status_code == 200, res.get_json()
    message = dict(MESSAGES["variant_message"], messageId="price-1")
    post_cj(client, dict(message, params=dict(message["params"], vid=VID)))
    run_jobs(runtime)
    assert tiktok.price_updates == [(PRODUCT_ID, {"skus": [
        {"id": SKU_ID, "price": {"amount": "17.99", "currency": "USD"}}]})]
    assert tiktok.inventory_updates == []  # the stock already matched
    row = _row(session_factory, mapping["id"])
    assert str(row.store_price) == "17.99" and row.want_why is None


@responses.activate
def test_a_product_tiktok_refuses_costs_only_its_own_skus(client, runtime, session_factory):
    """Review of issue 21: one refused product settled the whole run, written SKUs included."""
    cj, tiktok = FakeCj(responses.mock), FakeTikTok(responses.mock)
    frozen_sku, frozen_vid = "1729512345678901009", "2409150812345678999"
    cj.stock[VID], cj.stock[frozen_vid] = {"CN": 9}, {"CN": 4}
    cj.prices[VID] = cj.prices[frozen_vid] = 6.8
    tiktok.add_sku(SKU_ID, product_id=PRODUCT_ID, warehouses={WAREHOUSE: 40}, price="17.99")
    tiktok.add_sku(frozen_sku, product_id="1729512345678900009", warehouses={WAREHOUSE: 40})
    tiktok.refused_products["1729512345678900009"] = 12019010
    store_id = register(client)
    good = _tiktok_mapping(client, store_id)
    frozen = _tiktok_mapping(client, store_id, store_variant_id=frozen_sku, cj_vid=frozen_vid)
    client.patch(f"/admin/stores/{store_id}", headers=admin_headers(),
                 json={"pricing_rule": {"multiplier": "2.5", "currency": "USD", "ending": ".99"}})
    assert client.post(f"/admin/stores/{store_id}/stock/resync", headers=admin_headers()).status_code == 202
    run_jobs(runtime)
    row = _row(session_factory, good["id"])
    assert row.store_quantity == 9 and row.stock_write_error is None and str(row.store_price) == "17.99"
    row = _row(session_factory, frozen["id"])
    assert row.store_quantity_why == "skipped" and "refused updateInventory (code 12019010)" in row.stock_write_error
    assert "product scopes" in row.stock_write_error


@responses.activate
def test_a_rule_in_another_currency_than_the_shops_is_said_not_sent(client, runtime, session_factory):
    cj, tiktok = FakeCj(responses.mock), FakeTikTok(responses.mock)
    cj.stock[VID] = {"CN": 9}
    cj.prices[VID] = 6.8
    tiktok.add_sku(SKU_ID, product_id=PRODUCT_ID, warehouses={WAREHOUSE: 9}, price="24.00", currency="GBP")
    store_id = register(client)
    mapping = _tiktok_mapping(client, store_id)
    client.patch(f"/admin/stores/{store_id}", headers=admin_headers(),
                 json={"pricing_rule": {"multiplier": "2.5", "currency": "USD", "ending": ".99"}})
    assert client.post(f"/admin/stores/{store_id}/stock/resync", headers=admin_headers()).status_code == 202
    run_jobs(runtime)
    assert tiktok.price_updates == []
    row = _row(session_factory, mapping["id"])
    assert "sells this SKU in GBP, the pricing rule is in USD" in row.stock_write_error
