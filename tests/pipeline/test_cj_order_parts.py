"""CJ splits one of our orders into two parcels: two fulfillments, each with its own lines and tracking."""
from __future__ import annotations

import responses
from sqlalchemy import select

from service.storage.models import CjOrderPart, Shipment
from tests.conftest import post_cj, run_jobs, the_order
from tests.fakes import FakeCj, FakeShopify
from tests.pipeline.test_full_path import logistic_message, place_mapped_order

LED_VID, MOUNT_VID = "2409150812345678900", "2409150812345678911"  # the sample's two lines, as mapped


def _split_message(original_id: str, message_id="split-1"):
    return {"messageId": message_id, "type": "ORDERSPLIT", "messageType": "INSERT", "params": {
        "originalOrderId": original_id, "orderSplitTime": "2026-11-30 10:00:00",
        "splitOrderList": [
            {"orderCode": "CJPART0001", "createAt": "2026-11-30 10:00:00", "orderStatus": 300,
             "productList": [{"productCode": "CJLED5M", "vid": LED_VID, "quantity": 2, "sku": "CJ-LED-STRIP-5M-RGB"}]},
            {"orderCode": "CJPART0002", "createAt": "2026-11-30 10:00:00", "orderStatus": 300,
             "productList": [{"productCode": "CJMOUNT", "vid": MOUNT_VID, "quantity": 1, "sku": "CJ-MOUNT"}]}]}}


def _part(cj, code, number, vid, quantity, *, tracking=None, order_number=None):
    cj.orders[code] = {"orderId": code, "orderNumber": order_number or number, "orderStatus": "UNSHIPPED",
                       "orderAmount": 9.0, "logisticName": "USPS+", "trackNumber": tracking,
                       "trackingUrl": None,
                       "request": {"shippingCountryCode": "US", "products": [{"vid": vid, "quantity": quantity}]}}


@responses.activate
def test_two_cj_parcels_become_two_fulfillments_with_their_own_lines(client, shopify_store, runtime,
                                                                      session_factory):
    """Issue 11 (4): a split order's parcels were named by ids we did not know; their tracking never arrived."""
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    _part(cj, "CJPART0001", order.cj_order_number, LED_VID, 2)
    _part(cj, "CJPART0002", order.cj_order_number, MOUNT_VID, 1)
    cj.orders[order.cj_order_number]["orderStatus"] = "CANCELLED"  # the original only contains the parts now
    post_cj(client, _split_message(order.cj_order_id))
    run_jobs(runtime)
    with session_factory() as s:
        parts = s.scalars(select(CjOrderPart).order_by(CjOrderPart.part_ref)).all()
        assert [(p.part_ref, p.confirmed) for p in parts] == [("CJPART0001", True), ("CJPART0002", True)]
    assert the_order(session_factory).hold_reason != "cj_cancelled"

    # The first parcel ships; CJ's LOGISTIC names the part's own id.
    cj.orders["CJPART0001"].update(trackNumber="9400111899562345678901", orderStatus="SHIPPED")
    post_cj(client, logistic_message("CJPART0001", tracking="9400111899562345678901", message_id="l-1"))
    run_jobs(runtime)
    cj.orders["CJPART0002"].update(trackNumber="9400111899562345678999", orderStatus="SHIPPED")
    post_cj(client, logistic_message("CJPART0002", tracking="9400111899562345678999", message_id="l-2"))
    run_jobs(runtime)

    creates = shop.operations("CreateFulfillment")
    assert len(creates) == 2
    by_number = {}
    for create in creates:
        f = create["variables"]["fulfillment"]
        by_number[f["trackingInfo"]["number"]] = [i["id"] for g in f["lineItemsByFulfillmentOrder"]
                                                  for i in g["fulfillmentOrderLineItems"]]
    fo_lines = {n["lineItem"]["id"]: n["id"] for n in
                shop.order["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"]}
    assert by_number["9400111899562345678901"] == [fo_lines["gid://shopify/LineItem/16011223344001"]]
    assert by_number["9400111899562345678999"] == [fo_lines["gid://shopify/LineItem/16011223344002"]]
    assert the_order(session_factory).state == "fulfilled"


@responses.activate
def test_a_part_cj_says_is_another_orders_is_never_applied(client, shopify_store, runtime, session_factory):
    """The message is a hint: a forged split naming a part of another order changes nothing here."""
    cj = FakeCj(responses.mock)
    FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    _part(cj, "CJPART0001", order.cj_order_number, LED_VID, 2, tracking="LX123456789CN",
          order_number="CJBOTHER-9-12345")
    post_cj(client, _split_message(order.cj_order_id))
    run_jobs(runtime)
    with session_factory() as s:
        part = s.scalars(select(CjOrderPart).where(CjOrderPart.part_ref == "CJPART0001")).one()
        assert part.confirmed is False
        assert s.scalars(select(Shipment)).all() == []


@responses.activate
def test_a_line_refunded_before_submission_is_not_sent(client, shopify_store, runtime, session_factory):
    """Issue 11 (4): Shopify's current_quantity drops refunded and removed units; CJ gets only the rest."""
    from tests.conftest import post_shopify, shopify_order
    from tests.pipeline.test_full_path import setup_catalog
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    body = shopify_order()
    body["line_items"][1]["current_quantity"] = 0  # the phone mount, refunded before anything was sent
    body["line_items"][0]["current_quantity"] = 1  # one of the two LED strips removed
    assert post_shopify(client, body).status_code == 200
    run_jobs(runtime)
    (create,) = cj.ops("createOrderV2")
    assert [(p["vid"], p["quantity"]) for p in create[1]["products"]] == [(LED_VID, 1)]
