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


def _last_write_long_ago(session_factory, mapping_id):
    """eBay's spacing of a listing's writes (adapters/ebay_stock.WRITE_SPACING) has passed since the last one."""
    from datetime import timedelta

    from sqlalchemy import update

    from service.timeutil import iso, utcnow
    with session_factory() as s:
        ref = dict(s.get(SkuMapping, mapping_id).store_stock_ref, written_at=iso(utcnow() - timedelta(hours=1)))
        s.execute(update(SkuMapping).where(SkuMapping.id == mapping_id).values(store_stock_ref=ref))
        s.commit()


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
    _last_write_long_ago(session_factory, mapping["id"])
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
    assert [len(g["scope"].split()) for g in ebay.grants] == [2, 1]
    row = _row(session_factory, mapping["id"])
    assert row.store_quantity is None and "sell.inventory" in row.stock_write_error
    assert "Resolution:" in row.stock_write_error and ebay.inventory["CJB-LED-5M"]["quantity"] == 1
    # Known now: the next write asks eBay nothing (no grant, no 403), and says what to do.
    calls = len(ebay.inventory_requests)
    cj.stock[VID] = {"CN": 6}
    post_cj(client, dict(MESSAGES["stock_message"], messageId="again"))
    run_jobs(runtime)
    assert len(ebay.grants) == 2 and len(ebay.inventory_requests) == calls
    row = _row(session_factory, mapping["id"])
    assert "consented to orders only" in row.stock_write_error and "Resolution:" in row.stock_write_error


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


@responses.activate
def test_one_sku_a_call_offers_in_the_rules_currency_and_an_offers_own_quantity(client, runtime, session_factory,
                                                                                 ebay_store):  # noqa: F811
    """Review of issue 21: eBay updates one SKU a call; a listing sells the lesser of the item's figure and an
    offer's own availableQuantity; an unpublished offer, or one in another currency, is not priced."""
    cj, ebay = FakeCj(responses.mock), FakeEbay(responses.mock)
    other = "2409150812345678922"
    cj.stock[VID], cj.stock[other] = {"CN": 30}, {"CN": 8}
    cj.prices[VID] = 6.8
    ebay.inventory["CJB-LED-5M"] = {"quantity": 5, "offers": [
        {"offerId": "9001", "price": "24.00", "currency": "USD", "availableQuantity": 5},
        {"offerId": "9002", "price": "20.00", "currency": "GBP"},
        {"offerId": "9003", "price": "24.00", "currency": "USD", "status": "UNPUBLISHED"}]}
    ebay.inventory["CJB-LAMP"] = {"quantity": 2, "offers": [{"offerId": "9100", "price": "9.00", "currency": "USD"}]}
    ebay.refuse_offers.add("9001")  # its price (and quantity) is refused
    led = _map(client, ebay_store["id"], store_sku="CJB-LED-5M")
    lamp = _map(client, ebay_store["id"], store_sku="CJB-LAMP", cj_vid=other)
    client.patch(f"/admin/stores/{ebay_store['id']}", headers=admin_headers(),
                 json={"pricing_rule": {"multiplier": "2.5", "currency": "USD", "ending": ".99"}})
    assert client.post(f"/admin/stores/{ebay_store['id']}/stock/resync", headers=admin_headers()).status_code == 202
    run_jobs(runtime)

    updates = _updates(ebay)
    assert all(len(u["requests"]) == 1 for u in updates)  # one SKU a call
    (led_update,) = [u["requests"][0] for u in updates if u["requests"][0]["sku"] == "CJB-LED-5M"]
    assert led_update["shipToLocationAvailability"] == {"quantity": 30}
    assert led_update["offers"] == [{"offerId": "9001", "availableQuantity": 30,
                                     "price": {"value": "17.99", "currency": "USD"}}]  # not 9002 (GBP), not 9003
    row = _row(session_factory, led["id"])
    assert row.store_quantity_why == "skipped" and "25713" in row.stock_write_error  # the offer kept the listing
    assert ebay.inventory["CJB-LAMP"]["quantity"] == 8 and _row(session_factory, lamp["id"]).store_quantity == 8


@responses.activate
def test_a_refused_offer_price_leaves_the_written_quantity_written(client, runtime, session_factory,
                                                                    ebay_store):  # noqa: F811
    """Review of issue 21: one refused offer entry turned a written quantity into 'skipped'."""
    cj, ebay = FakeCj(responses.mock), FakeEbay(responses.mock)
    cj.stock[VID] = {"CN": 30}
    cj.prices[VID] = 6.8
    ebay.inventory["CJB-LED-5M"] = {"quantity": 5, "offers": [
        {"offerId": "9001", "price": "24.00", "currency": "USD"}]}
    ebay.refuse_offers.add("9001")
    mapping = _map(client, ebay_store["id"], store_sku="CJB-LED-5M")
    client.patch(f"/admin/stores/{ebay_store['id']}", headers=admin_headers(),
                 json={"pricing_rule": {"multiplier": "2.5", "currency": "USD", "ending": ".99"}})
    assert client.post(f"/admin/stores/{ebay_store['id']}/stock/resync", headers=admin_headers()).status_code == 202
    run_jobs(runtime)
    row = _row(session_factory, mapping["id"])
    assert row.store_quantity == 30 and row.store_quantity_why == "resync"  # the quantity went through
    assert ebay.inventory["CJB-LED-5M"]["quantity"] == 30
    assert "eBay refused the price 17.99 (25713)" in row.stock_write_error and row.store_price is None

    # A rule in a currency eBay does not sell this SKU in is said, and nothing is priced.
    _last_write_long_ago(session_factory, mapping["id"])
    client.put("/admin/exchange-rates", headers=admin_headers(), json={"currency": "EUR", "usd_per_unit": "1.08"})
    client.patch(f"/admin/stores/{ebay_store['id']}", headers=admin_headers(),
                 json={"pricing_rule": {"multiplier": "2.5", "currency": "EUR", "ending": ".99"}})
    ebay.refuse_offers.clear()
    run_jobs(runtime)
    row = _row(session_factory, mapping["id"])
    assert "no published offer for this SKU in EUR" in row.stock_write_error
    assert ebay.inventory["CJB-LED-5M"]["offers"][0]["price"] == "24.00"


@responses.activate
def test_a_listing_is_written_at_most_every_seven_minutes_but_sold_out_at_once(client, runtime, session_factory,
                                                                               ebay_store):  # noqa: F811
    """eBay allows about 250 revisions of a listing a day; a hot CJ variant changes more often than that."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from service.storage.models import Job
    from service.timeutil import iso, utcnow
    cj, ebay = FakeCj(responses.mock), FakeEbay(responses.mock)
    cj.stock[VID] = {"CN": 30}
    ebay.inventory["CJB-LED-5M"] = {"quantity": 5, "offers": []}
    mapping = _map(client, ebay_store["id"], store_sku="CJB-LED-5M")
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)
    assert ebay.inventory["CJB-LED-5M"]["quantity"] == 30

    cj.stock[VID] = {"CN": 25}  # a minute later: waits for its turn, and is not lost
    post_cj(client, dict(MESSAGES["stock_message"], messageId="m-2"))
    run_jobs(runtime)
    assert ebay.inventory["CJB-LED-5M"]["quantity"] == 30 and len(_updates(ebay)) == 1
    row = _row(session_factory, mapping["id"])
    assert row.want_quantity == 25 and row.want_why == "webhook" and row.stock_write_after is not None
    with session_factory() as s:
        (job,) = s.scalars(select(Job).where(Job.kind == "write_store_stock", Job.status == "queued")).all()
        assert abs((job.run_at - row.stock_write_after).total_seconds()) < 1  # a run when it may go
        assert job.dedupe_key.endswith(":deferred")

    cj.stock[VID] = {"CN": 0}  # sold out at CJ: written at once, whatever the spacing
    post_cj(client, dict(MESSAGES["stock_message"], messageId="m-3"))
    run_jobs(runtime)
    assert ebay.inventory["CJB-LED-5M"]["quantity"] == 0

    cj.stock[VID] = {"CN": 12}
    post_cj(client, dict(MESSAGES["stock_message"], messageId="m-4"))
    run_jobs(runtime)
    assert ebay.inventory["CJB-LED-5M"]["quantity"] == 0  # spaced from the write to 0
    with session_factory() as s:  # its turn comes
        past = utcnow() - timedelta(minutes=8)
        ref = dict(s.get(SkuMapping, mapping["id"]).store_stock_ref, written_at=iso(past))
        s.execute(update(SkuMapping).where(SkuMapping.id == mapping["id"]).values(
            store_stock_ref=ref, stock_write_after=past))
        s.execute(update(Job).where(Job.kind == "write_store_stock", Job.status == "queued").values(run_at=past))
        s.commit()
    run_jobs(runtime)
    assert ebay.inventory["CJB-LED-5M"]["quantity"] == 12
    row = _row(session_factory, mapping["id"])
    assert row.store_quantity == 12 and row.want_why is None and row.stock_write_after is None
