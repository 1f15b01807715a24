"""The admin API's OpenAPI document: valid, and naming every admin route with its methods."""
from __future__ import annotations

import re

from openapi_spec_validator import validate

from tests.conftest import admin_headers


def test_the_document_validates_and_lists_every_admin_route(app, client):
    """Issue 15 (5): the admin API had no machine-readable description."""
    res = client.get("/admin/openapi.json", headers=admin_headers())
    assert res.status_code == 200
    document = res.get_json()["data"]
    validate(document)
    paths = document["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths.get(path, {}), (method, path)
    stores = paths["/admin/stores"]["post"]
    assert stores["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/StoreCreate")
    assert "platform" in document["components"]["schemas"]["StoreCreate"]["properties"]
    assert paths["/admin/sku-mappings"]["put"]["requestBody"]["content"]["application/json"]["schema"]["type"] == \
        "array"
    assert client.get("/admin/openapi.json").status_code == 401
