"""Paid Shopify order → mapped → shipping chosen → CJ order → paid → LOGISTIC webhook → fulfillment."""
from __future__ import annotations

import json

import responses
from sqlalchemy import select

from tests.conftest import the_order, CJ_SAMPLES, admin_headers, post_cj, post_shopify, run_jobs, shopify_order
from tests.fakes import FakeCj, FakeShopify


# A cap the sample's quote (4.71) is within, but near: CJ's postage is then checked before payment, so the
# order is created, then confirmed and paid (3 calls) rather than created and paid in one.
NEAR_CAP = "5.00"


def setup_catalog(client, store_id, *, cap="10.00", names=("CJPacket Ordinary", "USPS+", "DHL Official")):
    res = client.put("/admin/sku-mappings", headers=admin_headers(), json=[
        {"store_id": store_id, "store_sku": "CJ-LED-STRIP-5M-RGB", "cj_vid": "2409150812345678900"},
        {"store_id": store_id, "store_variant_id": "50011223344502", "cj_vid": "2409150812345678911"}])
    assert res.status_code == 200, res.get_json()
    res = client.put("/admin/shipping-rules", headers=admin_headers(),
                     json={"country_code": "US", "logistic_names": list(names), "max_shipping_cost": cap})
    assert res.status_code == 200, res.get_json()


def expected_create_body(store_id: int, *, pay_type: int = 2) -> dict:
    """What createOrderV2 gets for the sample order; payType 2 (create and pay) as CJ_AUTO_PAY is on in tests."""
    return {
        "orderNumber": f"CJB{store_id}-7012345678901",
        "shippingCountryCode": "US", "shippingCountry": "United States", "shippingProvince": "Oregon",
        "shippingCity": "Springfield", "shippingZip": "97477", "shippingAddress": "742 Evergreen Terrace",
        "shippingAddress2": "Apt 3B", "shippingCustomerName": "Maria Lopez", "shippingPhone": "+15415550142",
        "email": "maria.lopez@example.org", "remark": "Store order #1057", "logisticName": "CJPacket Ordinary",
        "fromCountryCode": "CN", "platform": "shopify", "payType": pay_type, "shopLogisticsType": 2,
        "products": [
            {"vid": "2409150812345678900", "quantity": 2, "storeLineItemId": "16011223344001", "unitPrice": 19.99},
            {"vid": "2409150812345678911", "quantity": 1, "storeLineItemId": "16011223344002", "unitPrice": 15.0}],
        "shopAmount": 61.47,
    }


def logistic_message(cj_order_id: str, tracking="CJPKD0000000001US", message_id="b81d7c06e2f34a59a0d4c7e9f3a21c58"):
    message = json.loads(CJ_SAMPLES["webhook_logistic_message"]["raw_body"])
    message["messageId"] = message_id
    message["params"].update(orderId=cj_order_id, trackingNumber=tracking,
                             trackingUrl=f"https://www.cjpacket.com/?trackingNumber={tracking}")
    return message


def cj_ships(client, cj, order, tracking="CJPKD0000000001US", message_id="b81d7c06e2f34a59a0d4c7e9f3a21c58",
             status="SHIPPED"):
    """CJ ships the order (its API says so from now on) and posts its LOGISTIC message, which is only a hint."""
    cj.ship(order.cj_order_number, tracking)
    cj.orders[order.cj_order_number]["orderStatus"] = status
    return post_cj(client, logistic_message(order.cj_order_id, tracking=tracking, message_id=message_id))


def place_mapped_order(client, runtime, store_id, **order_changes):
    """Catalog set up, a paid order delivered, and the worker run: the usual start of a test."""
    setup_catalog(client, store_id)
    assert post_shopify(client, shopify_order(**order_changes)).status_code == 200
    run_jobs(runtime)


@responses.activate
def test_paid_order_reaches_cj_once_and_tracking_reaches_shopify(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    setup_catalog(client, shopify_store["id"])

    assert post_shopify(client, shopify_order()).status_code == 200
    run_jobs(runtime)

    creates = cj.ops("createOrderV2")
    assert [c[1] for c in creates] == [expected_create_body(shopify_store["id"])]
    freight = cj.ops("freightCalculate")[0][1]
    assert freight == {"startCountryCode": "CN", "endCountryCode": "US", "zip": "97477", "products": [
        {"vid": "2409150812345678900", "quantity": 2}, {"vid": "2409150812345678911", "quantity": 1}]}
    # Created and paid in one call (payType 2): no confirmOrder, no payBalance.
    assert cj.ops("payBalance") == [] and cj.ops("confirmOrder") == [] and len(cj.ops("getAccessToken")) == 1
    order = the_order(session_factory)
    assert order.state == "paid" and order.cj_pay_state == "paid"
    assert order.cj_order_id == cj.orders[order.cj_order_number]["orderId"]
    assert order.cj_logistic_name == "CJPacket Ordinary" and str(order.cj_shipping_cost) == "4.71"

    res = cj_ships(client, cj, order)
    assert res.status_code == 200
    run_jobs(runtime)

    creates = shop.operations("CreateFulfillment")
    assert len(creates) == 1
    assert creates[0]["variables"] == {
        "fulfillment": {
            "notifyCustomer": True,
            "trackingInfo": {"company": "CJPacket Ordinary", "number": "CJPKD0000000001US",
                             "url": "https://www.cjpacket.com/?trackingNumber=CJPKD0000000001US"},
            "lineItemsByFulfillmentOrder": [{
                "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/6543210987601",
                "fulfillmentOrderLineItems": [
                    {"id": "gid://shopify/FulfillmentOrderLineItem/13579246801", "quantity": 2},
                    {"id": "gid://shopify/FulfillmentOrderLineItem/13579246802", "quantity": 1}]}]},
        "message": f"Shipped by supplier (CJ order {order.cj_order_id})"}
    order = the_order(session_factory)
    assert order.state == "fulfilled"
    assert [(s.tracking_number, s.status) for s in _shipments(session_factory)] == [("CJPKD0000000001US", "written")]

    # The same tracking again (ORDER message and a repeated LOGISTIC one): no second fulfillment.
    order_msg = json.loads(CJ_SAMPLES["webhook_order_message"]["raw_body"])
    order_msg["params"].update(cjOrderId=order.cj_order_id, orderNumber=order.cj_order_number,
                               orderNum=order.cj_order_number)
    post_cj(client, order_msg)
    post_cj(client, logistic_message(order.cj_order_id, message_id="another-delivery"))
    run_jobs(runtime)
    assert len(shop.operations("CreateFulfillment")) == 1
    assert len(cj.ops("createOrderV2")) == 1

    # Delivered: CJ's API says so once its message about it came.
    delivered = logistic_message(order.cj_order_id, message_id="delivered-msg")
    delivered["params"]["trackingStatus"] = 12
    cj.orders[order.cj_order_number]["orderStatus"] = "DELIVERED"
    post_cj(client, delivered)
    run_jobs(runtime)
    assert the_order(session_factory).state == "delivered"


def _shipments(session_factory):
    from service.storage.models import Shipment
    with session_factory() as s:
        return s.scalars(select(Shipment).order_by(Shipment.id)).all()


@responses.activate
def test_a_second_tracking_number_is_added_to_the_fulfillment_never_swapped_in(client, shopify_store, runtime,
                                                                               session_factory):
    """CJ may ship one order in several parcels and never says a number replaces another: keep both."""
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    cj_ships(client, cj, order)
    run_jobs(runtime)
    cj_ships(client, cj, order, tracking="9400111899562345678901", message_id="m-new")
    run_jobs(runtime)
    assert len(shop.operations("CreateFulfillment")) == 1
    updates = shop.operations("UpdateTracking")
    assert len(updates) == 1
    assert updates[0]["variables"]["fulfillmentId"] == "gid://shopify/Fulfillment/1"
    assert updates[0]["variables"]["trackingInfoInput"]["numbers"] == ["CJPKD0000000001US", "9400111899562345678901"]
    assert updates[0]["variables"]["notifyCustomer"] is True
    assert shop.fulfillments[0]["trackingInfo"][0]["numbers"] == ["CJPKD0000000001US", "9400111899562345678901"]
    assert [s.status for s in _shipments(session_factory)] == ["written", "written"]
    assert the_order(session_factory).state == "fulfilled"


@responses.activate
def test_shopify_throttling_is_waited_out_not_failed(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    shop.throttle_next = 1
    cj_ships(client, cj, order)
    run_jobs(runtime)
    from service.storage.models import Job
    with session_factory() as s:
        job = s.scalars(select(Job).where(Job.kind == "write_back")).one()
        assert job.status == "queued" and job.attempts == 0 and "THROTTLED" in job.last_error
        job.run_at = job.created_at  # let it run now
        s.commit()
    run_jobs(runtime)
    assert the_order(session_factory).state == "fulfilled"
    assert len(shop.operations("CreateFulfillment")) == 1
