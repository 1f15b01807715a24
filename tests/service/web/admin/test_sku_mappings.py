"""Admin API: SKU mappings."""
from __future__ import annotations

from tests.conftest import admin_headers


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
