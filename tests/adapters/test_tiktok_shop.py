"""TikTok Shop adapter: its two signatures against the documented algorithm, and Get Order Detail normalized."""
from __future__ import annotations

import copy
import hashlib
import hmac

import pytest

from adapters.base import IGNORED_EVENT, ORDER_CHANGED_EVENT, UNINSTALL_EVENT
from adapters.tiktok_shop import ADAPTER
from adapters.tiktok_signing import request_sign, webhook_signature
from tests.conftest import load_fixture

SAMPLES = load_fixture("tiktok_samples.json")
VECTORS = SAMPLES["test_vectors"]
ORDER = SAMPLES["tiktok_get_order_detail_response"]["data"]["orders"][0]


def test_the_request_signer_matches_the_documented_algorithm_step_by_step():
    v = VECTORS["tiktok_api_sign_get_order_detail"]
    query = dict(v["query_without_sign"], access_token="never signed", sign="never signed")
    secret = v["app_secret"]
    # 1-2: the parameters but sign and access_token, sorted, as keyvalue; 3: after the path; 5: wrapped.
    pairs = "".join(f"{k}{query[k]}" for k in sorted(query) if k not in ("sign", "access_token"))
    wrapped = secret + v["path"] + pairs + secret
    assert wrapped == v["string_to_hmac"]
    by_hand = hmac.new(secret.encode(), wrapped.encode(), hashlib.sha256).hexdigest()  # 6: lowercase hex
    assert by_hand == v["expected_sign"]
    assert request_sign(app_secret=secret, path=v["path"], query=query) == v["expected_sign"]


def test_a_json_body_is_signed_as_sent():
    v = VECTORS["tiktok_api_sign_post_mark_package_as_shipped"]
    raw = v["raw_body"].encode()
    assert request_sign(app_secret=v["app_secret"], path=v["path"], query=v["query_without_sign"],
                        body=raw) == v["expected_sign"]
    spaced = raw.replace(b'":', b'": ').replace(b",", b", ")  # another serializer's bytes sign differently
    assert request_sign(app_secret=v["app_secret"], path=v["path"], query=v["query_without_sign"],
                        body=spaced) == v["sign_if_body_serialised_with_spaces"]


def test_the_webhook_signature_is_hmac_of_app_key_then_raw_body():
    v = VECTORS["tiktok_webhook_signature"]
    assert webhook_signature(v["app_key"], v["app_secret"], v["raw_body"].encode()) == \
        v["expected_authorization_header"]
    secret = f"{v['app_key']}:{v['app_secret']}"
    assert ADAPTER.verify(v["raw_body"].encode(), {"Authorization": v["expected_authorization_header"]}, [secret])
    assert ADAPTER.verify(v["raw_body"].encode(), {"Authorization": v["expected_authorization_header"].upper()},
                          [secret])
    assert not ADAPTER.verify(v["raw_body"].encode() + b" ", {"Authorization": v["expected_authorization_header"]},
                              [secret])
    assert not ADAPTER.verify(v["raw_body"].encode(), {}, [secret])
    assert not ADAPTER.verify(v["raw_body"].encode(), {"Authorization": v["expected_authorization_header"]},
                              [f"{v['app_key']}:another-secret"])


def test_the_body_names_the_shop_topic_and_notification():
    raw = VECTORS["tiktok_webhook_signature"]["raw_body"].encode()
    info = ADAPTER.identify({}, raw)
    assert (info.store_domain, info.topic, info.delivery_id) == ("7495123456789012345", "1", "7441928374650192837")
    assert ADAPTER.event_kind("1") == ORDER_CHANGED_EVENT and ADAPTER.event_kind("11") == ORDER_CHANGED_EVENT
    assert ADAPTER.event_kind("6") == UNINSTALL_EVENT and ADAPTER.event_kind("14") == IGNORED_EVENT
    assert ADAPTER.identify({}, b"not json").store_domain is None


def test_quantities_are_summed_from_per_unit_lines():
    order = ADAPTER.normalize(copy.deepcopy(ORDER), topic="order_detail")
    assert [(l["sku"], l["quantity"], l["unit_price"]) for l in order["lines"]] == [
        ("CJB-MUG-BLK-11OZ", 2, "14.99"), ("CJB-COASTER-SET4", 1, "14.99")]
    assert order["lines"][0]["line_ref"] == "577123456789012401,577123456789012402"
    assert order["lines"][0]["line_id"] == order["lines"][0]["variant_id"] == "1729512345678901001"
    assert order["paid"] is True and order["cancelled"] is False and order["total_price"] == "52.67"
    address = order["shipping_address"]
    assert (address["city"], address["province"], address["zip"], address["country_code"]) == \
        ("San Jose", "California", "95110", "US")
    assert address["address1"] == "1200 Example Blvd" and address["address2"] == "Suite 210"
    assert (order["created_at"], order["updated_at"]) == ("2025-11-28T15:18:20+00:00", "2025-11-28T15:19:59+00:00")


def test_cancelled_units_leave_their_line_but_a_cancelled_order_keeps_its_lines():
    partly = copy.deepcopy(ORDER)
    partly["line_items"][0]["display_status"] = "CANCELLED"  # one of the two mugs
    order = ADAPTER.normalize(partly, topic="order_detail")
    assert [(l["sku"], l["quantity"], l["line_ref"]) for l in order["lines"]] == [
        ("CJB-MUG-BLK-11OZ", 1, "577123456789012402"), ("CJB-COASTER-SET4", 1, "577123456789012403")]
    whole = copy.deepcopy(ORDER)
    whole["status"] = "CANCELLED"
    for item in whole["line_items"]:
        item["display_status"] = "CANCELLED"
    order = ADAPTER.normalize(whole, topic="order_detail")
    assert order["cancelled"] is True and [l["quantity"] for l in order["lines"]] == [2, 1]


def test_the_hand_over_deadline_is_the_orders_ship_by():
    assert ADAPTER.normalize(dict(copy.deepcopy(ORDER), rts_sla_time=1764522000), topic="x")["ship_by"] == \
        "2025-11-30T17:00:00+00:00"
    assert ADAPTER.normalize(dict(copy.deepcopy(ORDER), rts_sla_time=0), topic="x")["ship_by"] is None
    assert ADAPTER.normalize(copy.deepcopy(ORDER), topic="x")["ship_by"] is None


@pytest.mark.parametrize("status,on_hold,paid,cancelled", [
    ("UNPAID", False, False, False), ("ON_HOLD", False, False, False), ("AWAITING_SHIPMENT", True, False, False),
    ("AWAITING_SHIPMENT", False, True, False), ("PARTIALLY_SHIPPING", False, True, False),
    ("IN_TRANSIT", False, False, False), ("CANCELLED", False, False, True), ("CANCEL", False, False, True)])
def test_only_awaiting_shipment_goes_to_cj(status, on_hold, paid, cancelled):
    order = ADAPTER.normalize(dict(copy.deepcopy(ORDER), status=status, is_on_hold_order=on_hold), topic="x")
    assert (order["paid"], order["cancelled"]) == (paid, cancelled)


def test_a_shop_is_its_id():
    assert ADAPTER.normalize_domain(" 7495123456789012345 ") == "7495123456789012345"
    with pytest.raises(ValueError):
        ADAPTER.normalize_domain("my-shop.tiktok.com")
