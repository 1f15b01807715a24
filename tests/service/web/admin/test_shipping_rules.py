"""Admin API: shipping rules."""
from __future__ import annotations

from tests.conftest import admin_headers


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
