"""Admin API: store registration, secrets kept out of answers, deactivation."""
from __future__ import annotations

from service.storage.models import Store
from tests.conftest import SHOP_DOMAIN, admin_headers


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
    # Names the store it collides with, so a script (the README walkthrough) can carry on with it.
    assert dup.get_json()["error"]["details"] == {"store_id": data["id"]}
    assert [s["id"] for s in client.get("/admin/stores", headers=admin_headers()).get_json()["data"]] == [data["id"]]


def test_store_can_be_deactivated_and_reactivated(client, shopify_store):
    url = f"/admin/stores/{shopify_store['id']}"
    assert client.patch(url, headers=admin_headers(), json={"active": False}).get_json()["data"]["active"] is False
    assert client.patch(url, headers=admin_headers(), json={"bogus": 1}).status_code == 400
    assert client.patch(url, headers=admin_headers(), json={"active": True}).get_json()["data"]["active"] is True
