"""POST /webhooks/woocommerce: signature, the unsigned ping, PHP-escaped JSON, dedupe on order state."""
from __future__ import annotations

from sqlalchemy import func, select

from service.storage.models import Job, WebhookEvent
from tests.conftest import SHOPIFY_SAMPLES, WOO_SOURCE, post_woo, run_jobs, the_order, woo_order


def _events(session_factory):
    with session_factory() as s:
        return s.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()


def test_sample_delivery_with_its_recorded_signature_and_php_escapes(client, woo_store, runtime, session_factory):
    sample = SHOPIFY_SAMPLES["woocommerce_order_created"]
    raw = sample["raw_body"].encode()
    assert b"\\/" in raw  # PHP's json_encode escapes slashes
    res = client.post("/webhooks/woocommerce", data=raw, headers=sample["headers"])
    assert res.status_code == 200 and res.get_json()["data"]["status"] == "accepted"
    (event,) = _events(session_factory)
    assert event.raw_body == raw and event.store_id == woo_store["id"]
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.platform_order_id == "4821" and order.name == "#4821"
    assert order.canonical["lines"][0]["title"] == "Wireless Earbuds Pro - White"


def test_ping_gets_exactly_200_and_stores_nothing(client, session_factory):
    """Issue 22 (5): every unsigned ping was stored with all its headers: anyone could fill the disk."""
    ping = SHOPIFY_SAMPLES["woocommerce_ping"]
    for _ in range(5):
        res = client.post("/webhooks/woocommerce", data=ping["raw_body"],
                          headers=dict(ping["headers"], **{"X-Padding": "x" * 8000}))
        assert res.status_code == 200
        assert res.get_json()["data"]["status"] == "ignored"
    assert _events(session_factory) == []
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_bad_and_missing_signatures_are_401_and_store_nothing(client, woo_store, session_factory):
    assert post_woo(client, woo_order(), secret="wrong-secret-123").status_code == 401
    assert post_woo(client, woo_order(), headers={"X-WC-Webhook-Signature": None}).status_code == 401
    # A "ping" that carries order JSON is not a ping.
    assert client.post("/webhooks/woocommerce", data=b'{"id":1}').status_code == 401
    assert _events(session_factory) == []


def test_unknown_site_is_401(client, woo_store):
    res = post_woo(client, woo_order(), headers={"X-WC-Webhook-Source": "https://other.example.com/"})
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "unverified"


def test_source_url_is_normalized(client, woo_store):
    assert woo_store["domain"] == "shop.example.com"
    assert post_woo(client, woo_order(), headers={"X-WC-Webhook-Source": "HTTPS://Shop.Example.com"}).status_code == 200


def test_same_order_state_redelivered_is_a_duplicate(client, woo_store, session_factory):
    body = woo_order()
    assert post_woo(client, body).get_json()["data"]["status"] == "accepted"
    assert post_woo(client, body).get_json()["data"]["status"] == "duplicate"  # new delivery id, same state
    assert post_woo(client, body, topic="order.updated").get_json()["data"]["status"] == "accepted"
    newer = woo_order(date_modified_gmt="2026-11-28T19:09:00")
    assert post_woo(client, newer, topic="order.updated").get_json()["data"]["status"] == "accepted"
    assert len(_events(session_factory)) == 3


def test_out_of_order_states_converge_to_the_newest(client, woo_store, runtime, session_factory):
    newer = woo_order(status="on-hold", date_modified_gmt="2026-11-28T19:30:00", customer_note="newest")
    older = woo_order(status="on-hold", customer_note="older")
    post_woo(client, newer, topic="order.updated")
    post_woo(client, older, topic="order.created")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.canonical["note"] == "newest" and order.state == "skipped"


def test_unknown_platform_is_404(client):
    assert client.post("/webhooks/magento", data=b"{}").status_code == 404


def test_delivery_source_header_is_kept(client, woo_store, session_factory):
    post_woo(client, woo_order())
    assert _events(session_factory)[0].headers["X-Wc-Webhook-Source"] == WOO_SOURCE
