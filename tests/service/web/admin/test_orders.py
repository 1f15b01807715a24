"""Admin API: order listing and detail, retry of finished orders."""
from __future__ import annotations

import responses

from tests.conftest import admin_headers, post_shopify, run_jobs, shopify_order
from tests.fakes import FakeCj
from tests.pipeline.test_full_path import setup_catalog


@responses.activate
def test_order_listing_and_detail_show_history_and_cj_calls(client, shopify_store, runtime):
    FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    listing = client.get("/admin/orders?state=paid", headers=admin_headers()).get_json()["data"]
    assert [o["name"] for o in listing["orders"]] == ["#1057"]
    assert client.get("/admin/orders?state=held", headers=admin_headers()).get_json()["data"]["orders"] == []
    assert client.get("/admin/orders?state=bogus", headers=admin_headers()).status_code == 400
    assert client.get("/admin/orders?limit=x", headers=admin_headers()).status_code == 400
    detail = client.get(f"/admin/orders/{listing['orders'][0]['id']}", headers=admin_headers()).get_json()["data"]
    assert [h["to"] for h in detail["history"]] == ["received", "ready", "ready", "submitted", "paid"]
    assert detail["history"][2]["reason"] == "ships_from" and detail["history"][2]["detail"].startswith("CN: ")
    ops = [(c["operation"], c["outcome"]) for c in detail["cj_calls"]]
    assert ops == [("createOrderV2", "ok")]
    assert detail["cj_calls"][0]["response"]["orderNumber"] == detail["cj_order_number"]
    assert detail["canonical"]["lines"][0]["sku"] == "CJ-LED-STRIP-5M-RGB"
    assert client.get("/admin/orders/999", headers=admin_headers()).status_code == 404


def test_retry_of_a_finished_order_is_409(client, shopify_store, runtime):
    post_shopify(client, shopify_order(test=True))
    run_jobs(runtime)
    order_id = client.get("/admin/orders", headers=admin_headers()).get_json()["data"]["orders"][0]["id"]
    res = client.post(f"/admin/orders/{order_id}/retry", headers=admin_headers())
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "not_retryable"


def test_a_limit_of_zero_is_a_400_not_a_crash(client):
    res = client.get("/admin/orders?limit=0", headers=admin_headers())
    assert res.status_code == 400 and "limit" in res.get_json()["error"]["message"]
