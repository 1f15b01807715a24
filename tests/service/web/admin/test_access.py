"""Admin API access: the bearer token, and JSON errors for bad bodies and unknown routes."""
from __future__ import annotations

import io

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


def test_admin_bodies_are_limited(client):
    """Issue 22 (8): the admin API had no body-size limit."""
    big = b"[" + b"1," * 600_000 + b"1]"
    res = client.put("/admin/sku-mappings", headers=admin_headers(), data=big, content_type="application/json")
    assert res.status_code == 413 and res.get_json()["error"]["code"] == "payload_too_large"
    # A chunked body (no Content-Length; gunicorn marks its input terminated) is cut at the limit too.
    chunked = client.put("/admin/sku-mappings", headers=admin_headers(), input_stream=io.BytesIO(big),
                         content_type="application/json",
                         environ_overrides={"CONTENT_LENGTH": None, "wsgi.input_terminated": True})
    assert chunked.status_code == 413
