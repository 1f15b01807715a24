"""Dry-run (no CJ credentials): the whole pipeline runs and records the exact CJ request, sending nothing."""
from __future__ import annotations

import responses
from sqlalchemy import select

from service.storage.models import ExternalCall, Order
from tests.conftest import admin_headers
from tests.pipeline.test_full_path import expected_create_body, place_mapped_order


@responses.activate
def test_dry_run_records_the_create_request_and_sends_nothing(app_with_store, session_factory):
    client, runtime, store = app_with_store(CJ_API_KEY=None, CJ_DRY_RUN=None)
    assert runtime.settings.cj_dry_run is True
    place_mapped_order(client, runtime, store["id"])

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
