"""Invariant 3 and the paid/test/unpaid gates: deliveries in any order converge to the newest state."""
from __future__ import annotations

import responses
from sqlalchemy import func, select

from service.storage.models import Job, Order
from tests.conftest import the_order, post_shopify, run_jobs, shopify_order
from tests.fakes import FakeCj
from tests.pipeline.test_full_path import setup_catalog



@responses.activate
def test_updated_before_create_and_repeats_converge_to_newest(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    created = shopify_order()
    updated = shopify_order(updated_at="2026-11-28T14:09:00-05:00", note="Ring twice")
    updated["shipping_address"] = dict(created["shipping_address"], address1="1 New Street")
    # Newest first, then the older create, each delivered several times.
    for body, topic in [(updated, "orders/updated"), (created, "orders/create"), (updated, "orders/updated"),
                        (created, "orders/create"), (created, "orders/paid")]:
        assert post_shopify(client, body, topic=topic).status_code == 200
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.canonical["note"] == "Ring twice"
    assert order.canonical["shipping_address"]["address1"] == "1 New Street"
    assert len(cj.orders) == 1
    assert cj.ops("createOrderV2")[0][1]["shippingAddress"] == "1 New Street"
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        assert s.scalar(select(func.count()).select_from(Job).where(Job.kind == "forward_order")) == 1


def test_older_update_after_newer_is_ignored(client, shopify_store, runtime, session_factory, monkeypatch):
    newer = shopify_order(financial_status="pending", updated_at="2026-11-28T15:00:00-05:00", note="newer")
    older = shopify_order(financial_status="pending", note="older")
    post_shopify(client, newer, topic="orders/updated")
    run_jobs(runtime)
    post_shopify(client, older, topic="orders/updated")
    run_jobs(runtime)
    assert the_order(session_factory).canonical["note"] == "newer"


def test_test_orders_are_skipped(client, shopify_store, runtime, session_factory):
    post_shopify(client, shopify_order(test=True))
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "skipped" and order.cj_create_state is None
    from service.storage.models import OrderTransition
    with session_factory() as s:
        last = s.scalars(select(OrderTransition).order_by(OrderTransition.id.desc())).first()
    assert (last.to_state, last.reason) == ("skipped", "test_order")


@responses.activate
def test_unpaid_order_is_skipped_then_goes_through_when_paid(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order(financial_status="pending"))
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "skipped" and "financial status is 'pending'" in _last_detail(session_factory)
    assert cj.ops("createOrderV2") == []
    post_shopify(client, shopify_order(financial_status="paid", updated_at="2026-11-28T14:30:00-05:00"),
                 topic="orders/paid")
    run_jobs(runtime)
    assert the_order(session_factory).state == "paid" and len(cj.orders) == 1


def _last_detail(session_factory) -> str:
    from service.storage.models import OrderTransition
    with session_factory() as s:
        return s.scalars(select(OrderTransition).order_by(OrderTransition.id.desc())).first().detail


def test_order_without_shipping_address_is_held(client, shopify_store, runtime, session_factory):
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order(shipping_address=None))
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "needs_address"
    assert "Resolution:" in order.hold_detail


def test_app_uninstalled_deactivates_the_store(client, shopify_store, runtime, session_factory):
    post_shopify(client, {"id": 1, "domain": "acme-gadgets-demo.myshopify.com"}, topic="app/uninstalled")
    run_jobs(runtime)
    from service.storage.models import Store
    with session_factory() as s:
        store = s.get(Store, shopify_store["id"])
        assert store.active is False and store.uninstalled_at is not None


def test_payload_that_is_not_an_order_is_recorded_as_rejected(client, shopify_store, runtime, session_factory):
    post_shopify(client, {"id": 99}, topic="orders/create")
    run_jobs(runtime)
    from service.storage.models import WebhookEvent
    with session_factory() as s:
        event = s.scalars(select(WebhookEvent)).one()
        assert event.status == "rejected" and "updated_at" in event.note
        assert s.scalar(select(func.count()).select_from(Job).where(Job.status == "dead")) == 0
