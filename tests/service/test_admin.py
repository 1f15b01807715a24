"""Admin API: bearer auth, JSON-only errors, stores, orders, mappings, rules."""
from __future__ import annotations

import pytest
import responses

from service.models import Store
from tests.conftest import SHOP_DOMAIN, admin_headers, post_shopify, run_jobs, shopify_order
from tests.fakes import FakeCj
from tests.pipeline.test_full_path import setup_catalog


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-admin-token"}])
def test_admin_requires_the_bearer_token(client, headers):
    res = client.get("/admin/orders", headers=headers)
    assert res.status_code == 401
    assert res.get_json()["error"]["code"] == "unauthorized"


def test_store_registration_validates_and_hides_secrets(client, session_factory):
    res = client.post("/admin/stores", headers=admin_headers(), json={"platform": "shopify"})
    assert res.status_code == 400
    details = res.get_json()["error"]["details"]
    assert "shop_domain" in details
    res = client.post("/admin/stores", headers=admin_headers(), json={"platform": "shopify",
                                                                      "shop_domain": "a.myshopify.com"})
    assert res.status_code == 400
    assert res.get_json()["error"]["details"] == {"webhook_secret": ["the Shopify app's client secret is required"]}
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "magento", "shop_domain": "x.example", "webhook_secret": "12345678"})
    assert res.status_code == 400 and "platform" in res.get_json()["error"]["details"]
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "shopify", "shop_domain": "Acme-Gadgets-Demo.myshopify.com", "webhook_secret": "s3cret-value",
        "api_credentials": {"access_token": "shpat_secret"}, "api_base_url": "http://127.0.0.1:9999"})
    assert res.status_code == 201
    data = res.get_json()["data"]
    assert data["domain"] == SHOP_DOMAIN and data["api_credentials_set"] == ["access_token"]
    assert data["webhook_url"] == "https://bridge.example.com/webhooks/shopify"
    assert "shpat_secret" not in res.get_data(as_text=True) and "s3cret-value" not in res.get_data(as_text=True)
    with session_factory() as s:
        store = s.get(Store, data["id"])
        assert "shpat_secret" not in store.credentials_enc and "s3cret" not in store.webhook_secret_enc
    dup = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "shopify", "shop_domain": SHOP_DOMAIN, "webhook_secret": "another-secret"})
    assert dup.status_code == 409
    assert [s["id"] for s in client.get("/admin/stores", headers=admin_headers()).get_json()["data"]] == [data["id"]]


def test_non_json_body_is_a_400_with_json_error(client):
    res = client.put("/admin/sku-mappings", headers=admin_headers(), data=b"not json",
                     content_type="text/plain")
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "invalid_json"


def test_unknown_routes_answer_json(client):
    res = client.get("/admin/nothing-here", headers=admin_headers())
    assert res.status_code == 404 and res.get_json()["success"] is False


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
    assert [h["to"] for h in detail["history"]] == ["received", "ready", "submitted", "paid"]
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


def test_sku_mapping_crud(client, shopify_store):
    sid = shopify_store["id"]
    res = client.put("/admin/sku-mappings", headers=admin_headers(), json={"store_id": sid, "cj_vid": "v"})
    assert res.status_code == 400
    res = client.put("/admin/sku-mappings", headers=admin_headers(), json={"store_id": 999, "store_sku": "A",
                                                                          "cj_vid": "v"})
    assert res.status_code == 404
    client.put("/admin/sku-mappings", headers=admin_headers(), json={"store_id": sid, "store_sku": "A", "cj_vid": "v1"})
    client.put("/admin/sku-mappings", headers=admin_headers(), json={"store_id": sid, "store_sku": "A", "cj_vid": "v2"})
    rows = client.get(f"/admin/sku-mappings?store_id={sid}", headers=admin_headers()).get_json()["data"]
    assert [(r["store_sku"], r["cj_vid"]) for r in rows] == [("A", "v2")]  # upsert, not a second row
    res = client.delete("/admin/sku-mappings", headers=admin_headers(), json={"store_id": sid, "store_sku": "A"})
    assert res.status_code == 200
    assert client.get("/admin/sku-mappings", headers=admin_headers()).get_json()["data"] == []
    res = client.delete("/admin/sku-mappings", headers=admin_headers(), json={"store_id": sid, "store_sku": "A"})
    assert res.status_code == 404


def test_shipping_rules_validate_and_upsert(client):
    bad = client.put("/admin/shipping-rules", headers=admin_headers(),
                     json={"country_code": "USA", "logistic_names": [], "max_shipping_cost": "-1"})
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["details"]) == {"country_code", "logistic_names", "max_shipping_cost"}
    ok = client.put("/admin/shipping-rules", headers=admin_headers(), json=[
        {"country_code": "us", "logistic_names": ["USPS+"], "max_shipping_cost": "7.5"},
        {"country_code": "*", "logistic_names": ["CJPacket Ordinary"]}])
    assert ok.status_code == 200
    rules = client.get("/admin/shipping-rules", headers=admin_headers()).get_json()["data"]
    assert [(r["country_code"], r["max_shipping_cost"]) for r in rules] == [("*", None), ("US", "7.50")]
    assert client.delete("/admin/shipping-rules/us", headers=admin_headers()).status_code == 200
    assert client.delete("/admin/shipping-rules/us", headers=admin_headers()).status_code == 404


def test_store_can_be_deactivated_and_reactivated(client, shopify_store):
    url = f"/admin/stores/{shopify_store['id']}"
    assert client.patch(url, headers=admin_headers(), json={"active": False}).get_json()["data"]["active"] is False
    assert client.patch(url, headers=admin_headers(), json={"bogus": 1}).status_code == 400
    assert client.patch(url, headers=admin_headers(), json={"active": True}).get_json()["data"]["active"] is True
