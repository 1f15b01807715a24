"""Issue 22 (3, 4): a captured Shopify delivery replayed with new ids, deliveries after an erasure, an old
uninstall, and a body signed for one shop sent for another."""
from __future__ import annotations

from sqlalchemy import func, select

from service.storage.models import Order, Store, WebhookEvent
from tests.conftest import (SHOP_DOMAIN, SHOPIFY_SAMPLES, SHOPIFY_SECRET, admin_headers, post_shopify, run_jobs,
                            shopify_order)


def _events(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(WebhookEvent))


def test_a_replay_with_new_ids_is_a_duplicate(client, shopify_store, session_factory):
    body = shopify_order()
    assert post_shopify(client, body, webhook_id="w-1", event_id="e-1").get_json()["data"]["status"] == "accepted"
    replay = post_shopify(client, body, webhook_id="w-forged-2", event_id="e-forged-2")
    assert replay.status_code == 200 and replay.get_json()["data"]["status"] == "duplicate"
    assert _events(session_factory) == 1


def test_signature_headers_are_not_kept_with_the_delivery(client, shopify_store, session_factory):
    post_shopify(client, shopify_order())
    with session_factory() as s:
        headers = {k.lower() for k in s.scalars(select(WebhookEvent)).one().headers}
    assert "x-shopify-hmac-sha256" not in headers and "x-shopify-topic" in headers


def _redact(order_ids):
    return dict(SHOPIFY_SAMPLES["shopify_customers_redact"]["body"], orders_to_redact=order_ids)


def test_no_delivery_after_an_erasure_brings_the_customers_data_back(client, shopify_store, runtime,
                                                                     session_factory):
    post_shopify(client, shopify_order(financial_status="pending"))
    run_jobs(runtime)
    post_shopify(client, _redact([7012345678901, 7012345679999]), topic="customers/redact")
    run_jobs(runtime)
    # A later update of that order (or a replay of an older one with a new timestamp) carries the address.
    post_shopify(client, shopify_order(financial_status="pending", updated_at="2026-12-09T10:00:00-05:00"),
                 topic="orders/updated")
    # An order named in the erasure that we had not seen yet arrives afterwards.
    post_shopify(client, shopify_order(id=7012345679999, admin_graphql_api_id=None, name="#2000",
                                       financial_status="pending"))
    run_jobs(runtime)
    with session_factory() as s:
        for order in s.scalars(select(Order)):
            assert order.canonical["shipping_address"] is None and order.canonical["email"] is None, order.name
        for event in s.scalars(select(WebhookEvent).where(WebhookEvent.topic.like("orders/%"))):
            assert b"Evergreen" not in event.raw_body and b"maria" not in event.raw_body.lower()


def test_an_uninstall_older_than_the_last_activation_is_ignored(client, shopify_store, runtime, session_factory):
    shop = {"id": 60123456789, "myshopify_domain": SHOP_DOMAIN, "domain": "acme.example",
            "updated_at": "2026-11-01T10:00:00-05:00"}
    client.patch(f"/admin/stores/{shopify_store['id']}", headers=admin_headers(), json={"active": True})
    post_shopify(client, shop, topic="app/uninstalled")  # captured a month ago, replayed now
    run_jobs(runtime)
    with session_factory() as s:
        assert s.get(Store, shopify_store["id"]).active is True
    post_shopify(client, dict(shop, updated_at="2099-01-01T00:00:00Z"), topic="app/uninstalled")
    run_jobs(runtime)
    with session_factory() as s:
        assert s.get(Store, shopify_store["id"]).active is False


def test_a_body_signed_for_another_shop_is_refused(client, shopify_store, runtime, session_factory):
    """One app secret, several shops: a shop/redact for shop A sent with shop B's header must not erase B."""
    other = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "shopify", "shop_domain": "other-shop.myshopify.com", "webhook_secret": SHOPIFY_SECRET})
    assert other.status_code == 201
    body = dict(SHOPIFY_SAMPLES["shopify_shop_redact"]["body"], shop_domain="other-shop.myshopify.com")
    res = post_shopify(client, body, topic="shop/redact")  # header: acme-gadgets-demo
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "unverified"
    run_jobs(runtime)
    with session_factory() as s:
        assert s.get(Store, shopify_store["id"]) is not None
    # Its own shop's request is taken.
    ok = post_shopify(client, dict(body, shop_domain=SHOP_DOMAIN), topic="shop/redact")
    assert ok.status_code == 200
    run_jobs(runtime)
    with session_factory() as s:
        assert s.get(Store, shopify_store["id"]) is None
