"""eBay adapter: getOrders order → canonical order, carrier codes, seller identity."""
from __future__ import annotations

import copy

import pytest

from adapters.ebay import ADAPTER, ebay_carrier
from tests.conftest import load_fixture

ORDER = load_fixture("ebay_samples.json")["ebay_getOrders_response"]["orders"][0]


def test_the_sample_order_normalizes():
    canonical = ADAPTER.normalize(ORDER, topic="order.polled")
    assert canonical["paid"] is True and canonical["cancelled"] is False and canonical["currency"] == "USD"
    assert canonical["total_price"] == "57.96" and canonical["shipping_price"] == "4.99"
    assert [(l["line_id"], l["quantity"], l["unit_price"]) for l in canonical["lines"]] == [
        ("10073428153821", 2, "16.99"), ("10073428153822", 1, "18.99")]
    address = canonical["shipping_address"]
    assert (address["first_name"], address["last_name"], address["zip"]) == ("Jordan", "Example", "97477")


def test_lines_the_seller_shipped_and_refunds_and_cancels_are_read():
    order = copy.deepcopy(ORDER)
    order["lineItems"][1]["lineItemFulfillmentStatus"] = "FULFILLED"
    order["orderPaymentStatus"] = "FULLY_REFUNDED"
    order["cancelStatus"] = {"cancelState": "CANCELED"}
    canonical = ADAPTER.normalize(order, topic="order.polled")
    assert [l["requires_shipping"] for l in canonical["lines"]] == [True, False]
    assert canonical["refunded"] and canonical["cancelled"] and not canonical["paid"]


@pytest.mark.parametrize("cj_name,code", [("USPS+", "USPS"), ("UPS Ground", "UPS"), ("DHL Official", "DHL"),
                                          ("YunExpress Sensitive", "YunExpress"), ("CJPacket Ordinary", "Other"),
                                          ("Special Line XYZ", None), (None, None)])
def test_cj_names_map_to_ebay_carrier_codes(cj_name, code):
    assert ebay_carrier(cj_name) == code


def test_the_merchants_carrier_codes_come_first():
    """Issue 13 (4): the table is configurable (CARRIER_CODES), and a name nothing fits is held, not guessed."""
    from service.config import load_settings
    settings = load_settings({"CARRIER_CODES": "ebay:CJPacket Ordinary=USPS; ebay:Special Line XYZ=YunExpress; "
                                               "shopify:CJPacket Ordinary=USPS"})
    codes = settings.carrier_codes
    assert ebay_carrier("CJPacket Ordinary", codes["ebay"]) == "USPS"
    assert ebay_carrier("Special Line XYZ", codes["ebay"]) == "YunExpress"
    assert ebay_carrier("USPS+", codes["ebay"]) == "USPS"
    from adapters.shopify_carriers import shopify_carrier
    assert shopify_carrier("CJPacket Ordinary", codes["shopify"]) == "USPS"


def test_a_malformed_carrier_table_stops_the_start():
    from service.config import ConfigError, load_settings
    with pytest.raises(ConfigError) as err:
        load_settings({"CARRIER_CODES": "CJPacket Ordinary=USPS"})
    assert str(err.value).startswith("CARRIER_CODES:")


def test_a_polled_state_is_keyed_by_order_id_and_last_modified_date():
    info = ADAPTER.identify({})
    assert ADAPTER.order_version(ORDER) == "24-13579-86420:2026-11-28T15:43:10.000Z"
    assert ADAPTER.delivery_keys(info, {}, ORDER) == ["order-version:24-13579-86420:2026-11-28T15:43:10.000Z:"]
    assert ADAPTER.event_kind("order.polled") == "order"
