"""CJ logistic names → Shopify carrier names; a tracking URL always goes with the number."""
from __future__ import annotations

import pytest
import responses

from adapters.shopify_carriers import shopify_carrier
from tests.conftest import run_jobs, the_order
from tests.fakes import FakeCj, FakeShopify
from tests.pipeline.test_full_path import cj_ships, place_mapped_order


@pytest.mark.parametrize("cj_name,shopify_name", [
    ("USPS+", "USPS"), ("USPS", "USPS"), ("UPS Ground", "UPS"), ("FedEx", "FedEx"), ("DHL Official", "DHL Express"),
    ("DHL eCommerce", "DHL eCommerce"), ("YunExpress Sensitive", "YunExpress"), ("4PX", "4PX"),
    ("Yanwen", "Yanwen"), ("ePacket", "China Post"), ("China Post Registered Air Mail", "China Post"),
    ("Royal Mail", "Royal Mail"), ("Canada Post", "Canada Post"), ("PostNL", "PostNL"),
    ("CJPacket Ordinary", None), ("CJPacket Sensitive", None), ("", None), (None, None)])
def test_cj_names_map_to_shopify_carriers_where_one_exists(cj_name, shopify_name):
    """Issue 23 (6): "CJPacket Ordinary", "USPS+" are not Shopify carriers: no link, no status updates."""
    assert shopify_carrier(cj_name) == shopify_name


@responses.activate
def test_the_fulfillment_names_shopifys_carrier_and_always_has_a_tracking_url(client, shopify_store, runtime,
                                                                             session_factory):
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    cj.orders[order.cj_order_number]["logisticName"] = "USPS+"
    cj_ships(client, cj, order, tracking="9400111899562345678901")
    cj.orders[order.cj_order_number]["trackingUrl"] = None  # CJ's trackingUrl is optional
    run_jobs(runtime)
    (create,) = shop.operations("CreateFulfillment")
    info = create["variables"]["fulfillment"]["trackingInfo"]
    assert info["company"] == "USPS" and info["number"] == "9400111899562345678901"
    assert info["url"].startswith("https://") and "9400111899562345678901" in info["url"]
