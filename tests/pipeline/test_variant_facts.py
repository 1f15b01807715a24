"""CJ's price of a mapped variant: each change kept with its time, a thin margin flagged and alerted."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import responses
from sqlalchemy import select

from service.storage.models import CjVariantPrice, FreightQuote, SkuMapping
from tests.conftest import admin_headers, load_fixture, post_cj, run_jobs
from tests.fakes import FakeCj, FakeShopify
from tests.pipeline.test_full_path import place_mapped_order

MESSAGES = load_fixture("cj_catalog_messages.json")
VID = "2409150812345678911"  # the sample order's second line: 1 × 15.00 USD in the store


def _variant_message(message_id: str) -> dict:
    message = dict(MESSAGES["variant_message"], messageId=message_id)
    message["params"] = dict(message["params"], vid=VID, variantSellPrice=None, fields=["variantSellPrice"])
    return message


@responses.activate
def test_a_cj_price_rise_is_recorded_and_a_thin_margin_is_flagged_until_it_recovers(client, shopify_store, runtime,
                                                                                   session_factory):
    """Issue 21 (3): a CJ cost increase ate the margin silently, until the weekly reconciliation."""
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    shop.add_variant("50011223344502", item=900, levels={1: 10})
    place_mapped_order(client, runtime, shopify_store["id"])
    cj.prices[VID] = 6.8
    post_cj(client, _variant_message("price-1"))
    run_jobs(runtime)
    with session_factory() as s:
        mapping = s.scalars(select(SkuMapping).where(SkuMapping.cj_vid == VID)).one()
        assert mapping.cj_pid == f"p-{VID}" and mapping.margin_warning is None  # 15.00 against 6.80
    cj.prices[VID] = 13.1  # CJ raises its price: 1.90 of 15.00 left, 12.7 %
    post_cj(client, _variant_message("price-2"))
    run_jobs(runtime)
    with session_factory() as s:
        prices = [(p.price, p.seen_at is not None) for p in s.scalars(select(CjVariantPrice).order_by(CjVariantPrice.id))]
        assert prices == [(Decimal("6.80"), True), (Decimal("13.10"), True)]
        warning = s.scalars(select(SkuMapping).where(SkuMapping.cj_vid == VID)).one().margin_warning
    assert warning.startswith("CJ's price 13.10 USD leaves 1.90 USD (12.7 %) of the store's 15.00 USD, under "
                              "MARGIN_ALERT_PERCENT (15 %)")
    alerts = client.get("/admin/alerts", headers=admin_headers()).get_json()["data"]
    assert any(a["kind"] == "low_margin" and "13.10 USD" in a["message"] for a in alerts)
    listed = client.get("/admin/sku-mappings", headers=admin_headers()).get_json()["data"]
    assert any(m["margin_warning"] == warning for m in listed)
    # The store's price is never touched by this.
    assert not [r for r in shop.requests if "productVariantsBulkUpdate" in r["query"]]

    # With a cached quote for one unit, its cheapest method counts too.
    with session_factory() as s:
        s.add(FreightQuote(key="k", start_country="CN", end_country="US", products=[{"vid": VID, "quantity": 1}],
                           options=[{"logisticName": "CJPacket Ordinary", "logisticPrice": 4.2},
                                    {"logisticName": "USPS+", "logisticPrice": 6.1}], fetched_at=datetime(2026, 12, 1)))
        s.commit()
    cj.prices[VID] = 9.0
    post_cj(client, _variant_message("price-3"))
    run_jobs(runtime)
    with session_factory() as s:
        warning = s.scalars(select(SkuMapping).where(SkuMapping.cj_vid == VID)).one().margin_warning
    assert warning.startswith("CJ's price 9.00 USD and 4.20 USD shipping (cached quote) leaves 1.80 USD (12.0 %)")
    cj.prices[VID] = 6.0  # back to a healthy margin: the flag clears
    post_cj(client, _variant_message("price-4"))
    run_jobs(runtime)
    with session_factory() as s:
        assert s.scalars(select(SkuMapping).where(SkuMapping.cj_vid == VID)).one().margin_warning is None
