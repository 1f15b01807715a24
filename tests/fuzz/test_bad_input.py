"""Bad input, generated: never a 5xx, never a store event stored without a valid signature (CJ messages are
stored only as hints, at their secret address), always a JSON error."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from service.storage.models import WebhookEvent
from tests.conftest import (SHOP_DOMAIN, SHOPIFY_SECRET, WOO_SOURCE, admin_headers, cj_webhook_path, sign)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NASTY_TEXT = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["'; DROP TABLE stores;--", "\" OR 1=1 --", "%00", "\u202e\u0000", "../../etc/passwd",
                     "𝕊𝕙𝕠𝕡", "a" * 5000, "{{7*7}}", "${jndi:ldap://x}"]))
HEADER_TEXT = NASTY_TEXT.map(lambda t: t.encode("utf-8", "replace").decode("latin-1")[:8000].replace("\n", " ")
                             .replace("\r", " ").replace("\x00", ""))
CONTENT_TYPES = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "application/json; charset=utf-16", ""])


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


BODIES = st.one_of(st.binary(max_size=2000), NASTY_TEXT.map(lambda t: t.encode()),
                   st.integers(1000, 200000).map(deep_json),
                   st.recursive(st.none() | st.booleans() | st.integers() | NASTY_TEXT,
                                lambda c: st.lists(c, max_size=4) | st.dictionaries(NASTY_TEXT, c, max_size=4),
                                max_leaves=20).map(lambda v: json.dumps(v).encode()))


def _unsigned_events(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(WebhookEvent).where(WebhookEvent.topic != "ping"))


def _check_error_shape(res):
    assert res.status_code < 500, (res.status_code, res.get_data()[:300])
    if res.status_code >= 400:
        body = res.get_json(silent=True)
        assert body and body["success"] is False and body["error"]["code"] and body["error"]["message"]


@FUZZ
@given(body=BODIES, content_type=CONTENT_TYPES, topic=HEADER_TEXT, domain=HEADER_TEXT, sig=HEADER_TEXT,
       use_real_domain=st.booleans())
def test_shopify_endpoint_rejects_junk_without_storing(client, shopify_store, session_factory, body, content_type,
                                                       topic, domain, sig, use_real_domain):
    headers = {"Content-Type": content_type, "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": sig,
               "X-Shopify-Shop-Domain": SHOP_DOMAIN if use_real_domain else domain}
    res = client.post("/webhooks/shopify", data=body, headers=headers)
    _check_error_shape(res)
    assert res.status_code in (401, 413, 429)  # 429: the source failed verification too often
    assert _unsigned_events(session_factory) == 0


@FUZZ
@given(body=BODIES, topic=HEADER_TEXT)
def test_signed_junk_is_a_clear_400_or_stored(client, shopify_store, session_factory, body, topic):
    """A valid signature over junk: malformed JSON is a 400; well-formed JSON is stored (it is signed)."""
    # A blank topic is a missing one (a 400 of its own, tests/webhooks): HTTP drops the whitespace.
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic.strip() or "orders/create",
               "X-Shopify-Shop-Domain": SHOP_DOMAIN, "X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET, body)}
    res = client.post("/webhooks/shopify", data=body, headers=headers)
    _check_error_shape(res)
    try:
        json.loads(body)
        parses = True
    except (ValueError, UnicodeDecodeError, RecursionError):
        parses = False
    if body.startswith(b"[" * 500):
        # Parsable or not depends on the stack left in the request thread; both answers are honest.
        assert res.status_code in (200, 400)
    else:
        assert res.status_code == (200 if parses else 400), res.get_json()


@FUZZ
@given(body=BODIES, content_type=CONTENT_TYPES, source=HEADER_TEXT, sig=HEADER_TEXT, real_source=st.booleans())
def test_woocommerce_endpoint_rejects_junk_without_storing(client, woo_store, session_factory, body, content_type,
                                                           source, sig, real_source):
    headers = {"Content-Type": content_type, "X-WC-Webhook-Topic": "order.updated",
               "X-WC-Webhook-Source": WOO_SOURCE if real_source else source, "X-WC-Webhook-Signature": sig}
    res = client.post("/webhooks/woocommerce", data=body, headers=headers)
    _check_error_shape(res)
    assert res.status_code in (401, 413, 429)  # 429: the source failed verification too often
    assert _unsigned_events(session_factory) == 0


@FUZZ
@given(body=BODIES, sig=HEADER_TEXT)
def test_cj_endpoint_stores_only_well_formed_messages_at_its_secret_address(client, session_factory, body, sig):
    before = _unsigned_events(session_factory)
    for path in ("/webhooks/cj", cj_webhook_path() + "0", "/webhooks/cj/" + "0" * 40):
        res = client.post(path, data=body, headers={"sign": sig, "Content-Type": "application/json"})
        _check_error_shape(res)
        assert res.status_code == 404
    assert _unsigned_events(session_factory) == before
    res = client.post(cj_webhook_path(), data=body, headers={"sign": sig, "Content-Type": "application/json"})
    _check_error_shape(res)
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        message = None
    well_formed = isinstance(message, dict) and bool(message.get("messageId"))
    # A signature proves nothing here (service/pipeline/cj_hints.py): well-formed messages are stored as hints.
    assert res.status_code == (200 if well_formed else 400)
    assert _unsigned_events(session_factory) - before <= (1 if well_formed else 0)


@FUZZ
@given(name=HEADER_TEXT, value=HEADER_TEXT)
def test_huge_and_odd_headers(client, shopify_store, name, value):
    header = "X-" + "".join(c for c in name if c.isalnum())[:100] or "X-Odd"
    res = client.post("/webhooks/shopify", data=b"{}", headers={header: value * 3, "X-Shopify-Shop-Domain": value})
    _check_error_shape(res)


ADMIN_ROUTES = [("PUT", "/admin/sku-mappings"), ("PUT", "/admin/shipping-rules"), ("POST", "/admin/stores"),
                ("PATCH", "/admin/stores/1"), ("DELETE", "/admin/sku-mappings"), ("POST", "/admin/orders/1/retry"),
                ("POST", "/admin/jobs/1/retry"), ("POST", "/admin/stores/1/webhooks")]
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | NASTY_TEXT,
                       lambda c: st.lists(c, max_size=5) | st.dictionaries(
                           st.sampled_from(["store_id", "store_sku", "store_variant_id", "cj_vid", "country_code",
                                            "logistic_names", "max_shipping_cost", "platform", "shop_domain",
                                            "site_url", "webhook_secret", "api_credentials", "api_base_url",
                                            "active", "name"]) | NASTY_TEXT, c, max_size=8), max_leaves=25)


@FUZZ
@given(route=st.sampled_from(ADMIN_ROUTES), payload=JSONISH, raw=st.binary(max_size=300), use_raw=st.booleans(),
       content_type=CONTENT_TYPES)
def test_admin_writes_never_500(client, shopify_store, route, payload, raw, use_raw, content_type):
    method, path = route
    data = raw if use_raw else json.dumps(payload, allow_nan=True).encode()
    res = client.open(path, method=method, data=data, headers={**admin_headers(), "Content-Type": content_type})
    _check_error_shape(res)


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["state", "limit", "before_id", "store_id", "status", "offset",
                                               "x"]), NASTY_TEXT, max_size=4),
       path=st.sampled_from(["/admin/orders", "/admin/jobs", "/admin/sku-mappings", "/admin/events",
                             "/admin/stores", "/admin/shipping-rules"]))
def test_admin_reads_never_500(client, path, params):
    _check_error_shape(client.get(path, query_string=params, headers=admin_headers()))
