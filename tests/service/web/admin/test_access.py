"""Admin API access: the bearer token, and JSON errors for bad bodies and unknown routes."""
from __future__ import annotations

import pytest

from tests.conftest import admin_headers


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-admin-token"}])
def test_admin_requires_the_bearer_token(client, headers):
    res = client.get("/admin/orders", headers=headers)
    assert res.status_code == 401
    assert res.get_json()["error"]["code"] == "unauthorized"


def test_non_json_body_is_a_400_with_json_error(client):
    res = client.put("/admin/sku-mappings", headers=admin_headers(), data=b"not json",
                     content_type="text/plain")
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "invalid_json"


def test_unknown_routes_answer_json(client):
    res = client.get("/admin/nothing-here", headers=admin_headers())
    assert res.status_code == 404 and res.get_json()["success"] is False
