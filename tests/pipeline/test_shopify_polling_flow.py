"""Shopify's polling safety net end to end: a missed order is found, forwarded once, and counted against the webhooks."""
from __future__ import annotations

import copy
from datetime import timedelta

import responses
from sqlalchemy import update

from service.jobs.worker import beat
from service.pipeline.polling import poll_store
from service.storage.models import Store
from service.timeutil import utcnow
from tests.conftest import admin_headers, load_fixture, post_shopify, run_jobs, shopify_order, the_order
from tests.fakes import FakeCj, FakeShopify
from tests.pipeline.test_full_path import setup_catalog

POLLED = load_fixture("shopify_graphql_orders_page.json")["response"]["data"]["orders"]["nodes"][0]


def _order_updated(minutes_ago: int) -> dict:
    node = copy.deepcopy(POLLED)
    node["updatedAt"] = (utcnow() - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return node


def _poll(session_factory, store_id, runtime, *, cursor_minutes_ago=60) -> str:
    with session_factory() as s:
        s.execute(update(Store).where(Store.id == store_id).values(poll_cursor=utcnow() - timedelta(
            minutes=cursor_minutes_ago)))
        outcome = poll_store(s, store_id=store_id, runtime=runtime)
        s.commit()
    return outcome


@responses.activate
def test_an_order_whose_webhook_never_came_is_found_and_forwarded_once(client, shopify_store, runtime,
                                                                      session_factory):
    """Issue 11 (2): Shopify removes a subscription after failed deliveries; nothing then found its orders."""
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    setup_catalog(client, shopify_store["id"])
    shop.polled_orders = [_order_updated(minutes_ago=30)]
    assert _poll(session_factory, shopify_store["id"], runtime) == "polled 1 order(s), 1 not brought by any webhook"
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.platform_order_id == "7012345678901" and order.cj_order_id
    assert len(cj.ops("createOrderV2")) == 1
    (request,) = shop.operations("ChangedOrders")
    assert request["variables"]["query"].startswith("updated_at:>=")

    # The next poll sees the same state again: it was stored, so it is neither sent again nor counted again.
    assert _poll(session_factory, shopify_store["id"], runtime) == "polled 1 order(s), 0 not brought by any webhook"
    run_jobs(runtime)
    assert len(cj.ops("createOrderV2")) == 1

    health = client.get(f"/admin/stores/{shopify_store['id']}", headers=admin_headers()).get_json()["data"]
    assert health["webhook_health"]["orders_only_polling_found"] == 1
    assert health["webhook_health"]["webhooks_look_disabled"] is True
    beat(runtime, worker_id="w")
    ready = client.get("/readyz", headers=admin_headers()).get_json()["data"]
    assert ready["checks"]["stores_with_missed_webhooks"] == [shopify_store["id"]]
    assert any("check their webhooks" in w for w in ready["warnings"])


@responses.activate
def test_an_order_a_webhook_brought_is_not_counted_as_missed(client, shopify_store, runtime, session_factory):
    """The webhook states updated_at in the shop's offset, the poll in UTC: the same state all the same."""
    FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    moment = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
    node = copy.deepcopy(POLLED)
    node["updatedAt"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = shopify_order(updated_at=(moment - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S-05:00"))
    assert post_shopify(client, body, topic="orders/paid").status_code == 200
    shop.polled_orders = [node]
    assert _poll(session_factory, shopify_store["id"], runtime) == "polled 1 order(s), 0 not brought by any webhook"
    health = client.get(f"/admin/stores/{shopify_store['id']}", headers=admin_headers()).get_json()["data"]
    assert health["webhook_health"]["webhooks_look_disabled"] is False


@responses.activate
def test_a_store_without_api_credentials_is_not_polled(client, runtime, session_factory):
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "shopify", "shop_domain": "no-token-shop.myshopify.com", "webhook_secret": "s3cret-value"})
    store_id = res.get_json()["data"]["id"]
    outcome = _poll(session_factory, store_id, runtime)
    assert outcome.startswith("not polled: the store has no Admin API credentials")
    assert len(responses.calls) == 0


@responses.activate
def test_the_first_poll_reaches_back_one_day_only(client, shopify_store, runtime, session_factory):
    """Polling switched on for a store registered months ago must not send months-old orders to CJ."""
    shop = FakeShopify(responses.mock)
    with session_factory() as s:
        s.execute(update(Store).values(poll_cursor=None, created_at=utcnow() - timedelta(days=90)))
        poll_store(s, store_id=shopify_store["id"], runtime=runtime)
        s.commit()
    query = shop.operations("ChangedOrders")[0]["variables"]["query"]
    since = query.split()[0].removeprefix("updated_at:>=")
    assert since >= (utcnow() - timedelta(hours=24, minutes=11)).strftime("%Y-%m-%dT%H:%M:%SZ")
