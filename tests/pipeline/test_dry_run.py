"""Dry-run (no CJ credentials): the whole pipeline runs and records the exact CJ request, sending nothing."""
from __future__ import annotations

import responses
from sqlalchemy import select

from service.models import ExternalCall, Order
from tests.conftest import admin_headers, post_shopify, run_jobs, shopify_order
from tests.pipeline.test_full_path import expected_create_body, setup_catalog


@responses.activate
def test_dry_run_records_the_create_request_and_sends_nothing(make_app, session_factory):
    app = make_app(CJ_API_KEY=None, CJ_DRY_RUN=None)
    assert app.config["SETTINGS"].cj_dry_run is True
    client = app.test_client()
    runtime = app.extensions["cj_bridge"]
    store = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "shopify", "shop_domain": "acme-gadgets-demo.myshopify.com",
        "webhook_secret": "test-client-secret-NOT-REAL"}).get_json()["data"]
    setup_catalog(client, store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)

    assert len(responses.calls) == 0  # nothing left the process
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
        assert order.state == "held" and order.hold_reason == "dry_run"
        assert order.cj_create_state is None
        calls = s.scalars(select(ExternalCall).order_by(ExternalCall.id)).all()
        assert [(c.operation, c.outcome) for c in calls] == [("freightCalculate", "dry_run"),
                                                             ("createOrderV2", "dry_run")]
    detail = client.get(f"/admin/orders/{order.id}", headers=admin_headers()).get_json()["data"]
    assert detail["dry_run_request"] == expected_create_body(store["id"])
    assert detail["hold_reason"] == "dry_run" and "CJ_DRY_RUN" in detail["hold_detail"]


def test_cj_dry_run_can_be_forced_on_with_a_key(make_app):
    app = make_app(CJ_DRY_RUN="true")
    assert app.config["SETTINGS"].cj_dry_run is True
