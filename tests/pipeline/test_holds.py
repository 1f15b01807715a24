"""Invariant 4: every held order says why, and resumes by itself once the cause is fixed."""
from __future__ import annotations

import responses
from sqlalchemy import select

from service.storage.models import Job
from service.jobs.worker import periodic_kinds, schedule_periodic
from tests.conftest import the_order, admin_headers, post_shopify, run_jobs, shopify_order
from tests.fakes import FakeCj
from tests.pipeline.test_full_path import place_mapped_order



@responses.activate
def test_unmapped_sku_holds_and_a_new_mapping_resumes(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "*", "logistic_names": ["CJPacket Ordinary"]})
    client.put("/admin/sku-mappings", headers=admin_headers(), json={
        "store_id": shopify_store["id"], "store_sku": "CJ-LED-STRIP-5M-RGB", "cj_vid": "2409150812345678900"})
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "needs_mapping"
    assert "line 16011223344002 (Magnetic Phone Mount): sku=(empty) variant_id=50011223344502" in order.hold_detail
    assert "Resolution:" in order.hold_detail and cj.ops("createOrderV2") == []
    # The CJ-looking SKU was mapped by hand; the other one (empty SKU) must never be auto-matched.
    assert cj.ops("variantQuery") == []

    res = client.put("/admin/sku-mappings", headers=admin_headers(), json={
        "store_id": shopify_store["id"], "store_variant_id": "50011223344502", "cj_vid": "2409150812345678911"})
    assert res.get_json()["data"]["resumed_orders"] == 1
    run_jobs(runtime)
    assert the_order(session_factory).state == "paid" and len(cj.orders) == 1


@responses.activate
def test_cj_variant_sku_is_auto_matched_and_cached(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    cj.variants["CJ-LED-STRIP-5M-RGB"] = [{"vid": "sibling", "variantSku": "CJ-LED-STRIP-5M-RGB-X"},
                                          {"vid": "2409150812345678900", "variantSku": "CJ-LED-STRIP-5M-RGB"}]
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "US", "logistic_names": ["CJPacket Ordinary"]})
    client.put("/admin/sku-mappings", headers=admin_headers(), json={
        "store_id": shopify_store["id"], "store_variant_id": "50011223344502", "cj_vid": "2409150812345678911"})
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    assert the_order(session_factory).state == "paid"
    assert cj.ops("createOrderV2")[0][1]["products"][0]["vid"] == "2409150812345678900"
    post_shopify(client, shopify_order(id=7012345678902, admin_graphql_api_id=None))
    run_jobs(runtime)
    assert len(cj.ops("variantQuery")) == 1  # the second order used the cached answer


@responses.activate
def test_no_shipping_option_within_cap_holds_then_rule_change_resumes(client, shopify_store, runtime,
                                                                      session_factory):
    cj = FakeCj(responses.mock)
    client.put("/admin/sku-mappings", headers=admin_headers(), json=[
        {"store_id": shopify_store["id"], "store_sku": "CJ-LED-STRIP-5M-RGB", "cj_vid": "v1"},
        {"store_id": shopify_store["id"], "store_variant_id": "50011223344502", "cj_vid": "v2"}])
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "US", "logistic_names": ["DHL Official", "USPS+"], "max_shipping_cost": "5"})
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.hold_reason == "needs_shipping_rule"
    assert "CJ offers: CJPacket Ordinary $4.71, USPS+ $6.05, DHL Official $21.4" in order.hold_detail
    assert cj.ops("createOrderV2") == []  # never silently something more expensive
    res = client.put("/admin/shipping-rules", headers=admin_headers(),
                     json={"country_code": "US", "logistic_names": ["DHL Official", "USPS+"],
                           "max_shipping_cost": "25"})
    assert res.get_json()["data"]["resumed_orders"] == 1
    run_jobs(runtime)
    assert cj.ops("createOrderV2")[0][1]["logisticName"] == "USPS+"  # cheapest allowed within the cap


@responses.activate
def test_missing_rule_uses_default_and_no_rule_at_all_holds(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    client.put("/admin/sku-mappings", headers=admin_headers(), json=[
        {"store_id": shopify_store["id"], "store_sku": "CJ-LED-STRIP-5M-RGB", "cj_vid": "v1"},
        {"store_id": shopify_store["id"], "store_variant_id": "50011223344502", "cj_vid": "v2"}])
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "DE", "logistic_names": ["DHL Official"]})
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    assert the_order(session_factory).hold_reason == "needs_shipping_rule"
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "*", "logistic_names": ["CJPacket Ordinary"]})
    run_jobs(runtime)
    assert cj.ops("createOrderV2")[0][1]["logisticName"] == "CJPacket Ordinary"


@responses.activate
def test_insufficient_balance_holds_and_resumes_on_schedule_after_top_up(client, shopify_store, runtime,
                                                                         session_factory):
    cj = FakeCj(responses.mock, balance=1.0)
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "insufficient_balance"
    assert order.cj_order_id and "top up the CJ balance" in order.hold_detail
    cj.balance = 500.0
    assert schedule_periodic(runtime) == len(periodic_kinds(runtime))  # retry_balance_holds among them
    run_jobs(runtime)  # the periodic job queues the forward job, which runs in the same drain
    order = the_order(session_factory)
    # Created unpaid by the create-and-pay call (1604000), then paid once with payBalance: one CJ order.
    assert order.state == "paid" and len(cj.ops("createOrderV2")) == 1 and len(cj.ops("payBalance")) == 1
    assert cj.orders[order.cj_order_number]["orderStatus"] == "UNSHIPPED" and cj.balance == 500.0 - 18.31


@responses.activate
def test_insufficient_balance_admin_retry(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock, balance=1.0)
    place_mapped_order(client, runtime, shopify_store["id"])
    cj.balance = 500.0
    order = the_order(session_factory)
    res = client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers())
    assert res.status_code == 202 and res.get_json()["data"]["queued"] == "forward_order"
    run_jobs(runtime)
    assert the_order(session_factory).state == "paid"


@responses.activate
def test_cj_rejection_is_held_with_code_and_resolution(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    cj.fail_next["createOrderV2"] = [(200, {"code": 1602003, "result": False, "message": "variant delisted",
                                            "data": None})]
    place_mapped_order(client, runtime, shopify_store["id"])
    order = the_order(session_factory)
    assert order.hold_reason == "cj_rejected" and "1602003" in order.hold_detail
    assert "map the SKU to another CJ variant" in order.hold_detail and order.cj_create_state is None
    client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers())
    run_jobs(runtime)
    assert the_order(session_factory).state == "paid" and len(cj.orders) == 1


@responses.activate
def test_auto_pay_off_leaves_the_order_submitted(app_with_store, session_factory):
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, store["id"])
    assert the_order(session_factory).state == "submitted"
    assert cj.ops("payBalance") == [] and cj.ops("confirmOrder") == []


def test_a_fix_made_while_the_order_is_being_forwarded_is_not_lost(client, shopify_store, runtime,
                                                                     session_factory):
    from service.jobs.queue import claim
    from service.jobs.worker import run_job
    post_shopify(client, shopify_order())
    run_job(runtime, claim(session_factory, worker_id="w", lease_seconds=60), worker_id="w")  # process_event
    running = claim(session_factory, worker_id="w", lease_seconds=60)
    assert running.kind == "forward_order" and the_order(session_factory).state == "ready"
    res = client.put("/admin/sku-mappings", headers=admin_headers(), json={
        "store_id": shopify_store["id"], "store_sku": "CJ-LED-STRIP-5M-RGB", "cj_vid": "v1"})
    assert res.get_json()["data"]["resumed_orders"] == 1
    with session_factory() as s:
        queued = s.scalars(select(Job).where(Job.kind == "forward_order", Job.status == "queued")).all()
        assert len(queued) == 1 and queued[0].id != running.id
