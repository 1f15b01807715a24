"""CJ product subscriptions: the mapped products get CJ's PRODUCT/VARIANT/STOCK messages, and only those."""
from __future__ import annotations

import responses
from sqlalchemy import select

from service.pipeline.cj_product_subscriptions import sync_product_subscriptions
from service.storage.models import CjProductSubscription
from tests.conftest import admin_headers
from tests.fakes import FakeCj


def _sync(runtime, session_factory) -> str:
    with session_factory() as s:
        return sync_product_subscriptions(s, runtime=runtime)


def _map_many(client, store_id, count, *, first=0):
    res = client.put("/admin/sku-mappings", headers=admin_headers(), json=[
        {"store_id": store_id, "store_variant_id": str(9000 + n), "cj_vid": f"v{n}", "cj_pid": f"p{n:04d}"}
        for n in range(first, first + count)])
    assert res.status_code == 200, res.get_json()


@responses.activate
def test_mapped_products_are_subscribed_100_a_call_and_unsubscribed_when_their_last_mapping_goes(
        client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    _map_many(client, shopify_store["id"], 150)
    client.put("/admin/sku-mappings", headers=admin_headers(), json={  # a second variant of product p0000
        "store_id": shopify_store["id"], "store_variant_id": "8999", "cj_vid": "v0b", "cj_pid": "p0000"})
    client.put("/admin/sku-mappings", headers=admin_headers(), json={  # self-stocked: no messages needed
        "store_id": shopify_store["id"], "store_variant_id": "8998", "cj_vid": "v-own", "cj_pid": "p-own",
        "self_stocked": True})
    assert _sync(runtime, session_factory) == "150 product(s) subscribed, 0 unsubscribed"
    assert [len(body["productIds"]) for _op, body in cj.ops("productSubscribe")] == [100, 50]
    assert cj.subscribed == {f"p{n:04d}" for n in range(150)}
    assert _sync(runtime, session_factory) == "0 product(s) subscribed, 0 unsubscribed"  # nothing twice

    # p0000 keeps one mapping; p0001 loses its only one.
    for variant in ("9000", "9001"):
        assert client.delete("/admin/sku-mappings", headers=admin_headers(), json={
            "store_id": shopify_store["id"], "store_variant_id": variant}).status_code == 200
    assert _sync(runtime, session_factory) == "0 product(s) subscribed, 1 unsubscribed"
    assert [body for _op, body in cj.ops("productUnsubscribe")] == [{"productIds": ["p0001"]}]
    assert "p0000" in cj.subscribed and "p0001" not in cj.subscribed


@responses.activate
def test_the_level_cap_is_kept_and_shown_and_the_poll_still_covers_the_rest(client, shopify_store, runtime,
                                                                           session_factory):
    cj = FakeCj(responses.mock)
    cj.subscription_cap = 120
    _map_many(client, shopify_store["id"], 150)
    outcome = _sync(runtime, session_factory)
    assert outcome.startswith("100 product(s) subscribed, 0 unsubscribed; CJ refused the subscription")
    with session_factory() as s:
        refused = s.scalars(select(CjProductSubscription).where(CjProductSubscription.refused.is_not(None))).all()
        assert len(refused) == 50 and all(r.subscribed_at is None for r in refused)
    account = client.get("/admin/cj/account", headers=admin_headers()).get_json()["data"]
    assert account["product_subscriptions"]["products_subscribed"] == 100
    assert account["product_subscriptions"]["products_refused"] == 50
    assert "the stock poll covers them" in account["product_subscriptions"]["refusal"]
    calls = len(cj.ops("productSubscribe"))
    assert _sync(runtime, session_factory) == "0 product(s) subscribed, 0 unsubscribed"  # asked again in a day
    assert len(cj.ops("productSubscribe")) == calls


@responses.activate
def test_a_refused_chunk_does_not_block_the_next_and_unsubscribing_comes_first(client, shopify_store, runtime,
                                                                              session_factory):
    """Review of issue 21: one refused chunk stopped every later subscription."""
    cj = FakeCj(responses.mock)
    _map_many(client, shopify_store["id"], 150)
    cj.fail_next["productSubscribe"] = [(200, {"code": 1600101, "result": False, "message": "product not found",
                                               "data": None})]
    assert _sync(runtime, session_factory).startswith("50 product(s) subscribed, 0 unsubscribed; CJ refused")
    assert len(cj.subscribed) == 50  # the second chunk went through
    for n in list(range(100, 110)) + [0]:  # ten subscribed products, and one refused, lose their mappings
        client.delete("/admin/sku-mappings", headers=admin_headers(),
                      json={"store_id": shopify_store["id"], "store_variant_id": str(9000 + n)})
    _map_many(client, shopify_store["id"], 1, first=200)  # and one new product, in the same run
    assert _sync(runtime, session_factory) == "1 product(s) subscribed, 10 unsubscribed"
    order = [op for op, _body in cj.ops() if op in ("productSubscribe", "productUnsubscribe")]
    assert order[-2:] == ["productUnsubscribe", "productSubscribe"]  # room under the cap first
    assert len(cj.subscribed) == 41
    assert [b["productIds"] for op, b in cj.ops("productUnsubscribe")] == [[f"p{n:04d}" for n in range(100, 110)]]
    with session_factory() as s:
        assert s.get(CjProductSubscription, "p0000") is None  # the refused one, no longer wanted


def test_dry_run_subscribes_nothing(make_app, session_factory):
    app = make_app(CJ_DRY_RUN="true")
    with session_factory() as s:
        assert sync_product_subscriptions(s, runtime=app.extensions["cj_bridge"]) == "dry_run"
