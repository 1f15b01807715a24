"""forward_order against the merchant's second thoughts: cancels, edits and refunds that land mid-flight,
payments that must not happen, amounts in the store's currency, the postage CJ really charges."""
from __future__ import annotations

import copy
from decimal import Decimal

import responses
from sqlalchemy import select

from service.jobs.queue import claim
from service.jobs.worker import run_job
from service.storage.models import Job, OrderTransition
from tests.conftest import SHOPIFY_SAMPLES, admin_headers, post_shopify, run_jobs, shopify_order, the_order
from tests.fakes import FakeCj, envelope, timeout_error
from tests.pipeline.test_exactly_once import _make_due
from tests.pipeline.test_full_path import NEAR_CAP, setup_catalog


def cancelled_version(**changes):
    fields = dict(cancelled_at="2026-11-28T16:40:01-05:00", cancel_reason="customer", financial_status="refunded",
                  updated_at="2026-11-28T16:40:02-05:00")
    return shopify_order(**dict(fields, **changes))


def run_other_workers_jobs(runtime, kind: str) -> list[str]:
    """What a second worker does meanwhile: take every due job of this kind and run it."""
    statuses = []
    while True:
        job = claim(runtime.session_factory, worker_id="other-worker", lease_seconds=60)
        if job is None:
            return statuses
        if job.kind != kind:
            # Not this worker's business in the scenario: hand it back untouched.
            with runtime.session_factory() as s:
                row = s.get(Job, job.id)
                row.status, row.lease_owner, row.attempts = "queued", None, row.attempts - 1
                s.commit()
            return statuses
        statuses.append(run_job(runtime, job, worker_id="other-worker"))


def run_first(runtime, session_factory, kind: str) -> None:
    """Run the due jobs of one kind before any other (as a second worker might); jobs they queue wait."""
    from datetime import timedelta
    from sqlalchemy import update
    from service.timeutil import utcnow
    while True:
        with session_factory() as s:
            parked = {j.id: j.run_at for j in s.scalars(select(Job).where(Job.status == "queued", Job.kind != kind))}
            s.execute(update(Job).where(Job.id.in_(parked)).values(run_at=utcnow() + timedelta(hours=1)))
            s.commit()
        job = claim(runtime.session_factory, worker_id="first", lease_seconds=60)
        if job is not None:
            run_job(runtime, job, worker_id="first")
        with session_factory() as s:
            for job_id, run_at in parked.items():
                s.execute(update(Job).where(Job.id == job_id, Job.status == "queued").values(run_at=run_at))
            s.commit()
        if job is None:
            return


def settle(runtime, session_factory, rounds=3):
    """Run jobs until none is left, including those that stepped aside for a moment (their run_at is made due)."""
    for _ in range(rounds):
        _make_due(session_factory)
        run_jobs(runtime)


def _history(session_factory, order_id):
    with session_factory() as s:
        return [(t.to_state, t.reason) for t in s.scalars(select(OrderTransition).where(
            OrderTransition.order_id == order_id).order_by(OrderTransition.id))]


@responses.activate
def test_a_cancel_that_lands_while_forward_waits_for_cj_wins(client, shopify_store, runtime, session_factory):
    """Issue 19 (1): forward kept the order it read at its start and wrote `paid` over `cancelled`."""
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    freight = envelope(cj.freight)

    def cancel_arrives_meanwhile(body, query):
        # While forward waits on freightCalculate, the store cancels and another worker takes the event.
        assert post_shopify(client, cancelled_version(), topic="orders/cancelled").status_code == 200
        run_other_workers_jobs(runtime, "process_event")
        import json
        return 200, {}, json.dumps(freight)
    cj.fail_next["freightCalculate"] = [cancel_arrives_meanwhile]
    run_jobs(runtime)
    settle(runtime, session_factory)  # jobs that stepped aside for each other run again
    order = the_order(session_factory)
    assert order.state == "cancelled" and order.cancelled
    assert cj.ops("createOrderV2") == [] and cj.ops("payBalance") == []
    assert ("cancelled", "store_cancelled") in _history(session_factory, order.id)


@responses.activate
def test_an_address_change_while_forward_waits_for_cj_reaches_cj(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    moved = shopify_order(updated_at="2026-11-28T16:41:00-05:00")
    moved["shipping_address"] = dict(moved["shipping_address"], address1="1 New Street", city="Portland")
    import json
    calls = []

    def address_changes_meanwhile(body, query):
        calls.append(1)
        if len(calls) == 1:
            post_shopify(client, moved, topic="orders/updated")
            run_other_workers_jobs(runtime, "process_event")
        return 200, {}, json.dumps(envelope(cj.freight))
    cj.fail_next["freightCalculate"] = [address_changes_meanwhile, address_changes_meanwhile]
    run_jobs(runtime)
    settle(runtime, session_factory)
    (create,) = cj.ops("createOrderV2")
    assert create[1]["shippingAddress"] == "1 New Street" and create[1]["shippingCity"] == "Portland"
    assert the_order(session_factory).state == "paid"


@responses.activate
def test_a_payment_retry_never_pays_an_order_the_store_cancelled(client, shopify_store, runtime, session_factory):
    """Issue 19 (2): the 'submitted, unpaid → pay' shortcut ran before the cancelled check."""
    cj = FakeCj(responses.mock)
    cj.fail_next["payBalance"] = [timeout_error()]
    setup_catalog(client, shopify_store["id"], cap=NEAR_CAP)  # the 3-call flow, whose payment can be retried
    post_shopify(client, shopify_order())
    run_jobs(runtime)  # created, confirmed; the payment timed out and is queued again
    order = the_order(session_factory)
    assert order.state == "submitted" and order.cj_pay_state == "pending"
    cj.orders[order.cj_order_number]["orderStatus"] = "UNPAID"  # that payment never reached CJ
    post_shopify(client, cancelled_version(), topic="orders/cancelled")
    run_first(runtime, session_factory, "process_event")  # the cancel is recorded, its cancel job queued
    _make_due(session_factory)
    run_first(runtime, session_factory, "forward_order")  # the payment retry comes up before the cancel job
    run_jobs(runtime)
    order = the_order(session_factory)
    assert len(cj.ops("payBalance")) == 1  # the one that timed out; never again
    assert order.state == "cancelled" and [c[1] for c in cj.ops("deleteOrder")] == [{"orderId": order.cj_order_id}]


@responses.activate
def test_a_dead_payment_job_holds_the_order_and_retry_pays_it(client, shopify_store, runtime, session_factory):
    """Issue 19 (7): after payBalance failed for hours the order sat in plain `submitted`, unpaid, forever."""
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"], cap=NEAR_CAP)
    cj.fail_next["payBalance"] = [(200, envelope(code=1600000, message="system busy"))] * 8
    post_shopify(client, shopify_order())
    for _ in range(8):
        run_jobs(runtime)
        _make_due(session_factory)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "payment_failed"
    assert "payBalance" in order.hold_detail and "Resolution:" in order.hold_detail
    res = client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers())
    assert res.status_code == 202 and res.get_json()["data"]["queued"] == "forward_order"
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "paid" and cj.orders[order.cj_order_number]["orderStatus"] == "UNSHIPPED"


def _refunded_version():
    return shopify_order(financial_status="refunded", updated_at="2026-11-28T16:45:00-05:00")


@responses.activate
def test_a_full_refund_without_a_cancel_holds_before_paying(client, shopify_store, runtime, session_factory):
    """Issue 19 (13): a full refund after submission only wrote a note, and the CJ order was then paid."""
    cj = FakeCj(responses.mock, balance=0)
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    assert the_order(session_factory).hold_reason == "insufficient_balance"
    post_shopify(client, _refunded_version(), topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "refunded_after_submission"
    assert "Resolution:" in order.hold_detail
    cj.balance = 100.0  # topped up: the balance sweep and a plain retry still do not pay it
    client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers())
    run_jobs(runtime)
    assert the_order(session_factory).hold_reason == "refunded_after_submission"
    assert cj.orders[order.cj_order_number]["orderStatus"] != "UNSHIPPED"
    # The merchant says: ship it anyway. Paid once, and the same refund never holds it again.
    res = client.post(f"/admin/orders/{order.id}/acknowledge", headers=admin_headers(),
                      json={"comment": "customer asked to keep it"})
    assert res.status_code == 200, res.get_json()
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "paid" and cj.orders[order.cj_order_number]["orderStatus"] == "UNSHIPPED"
    assert order.acknowledged_holds == ["refunded_after_submission"]


@responses.activate
def test_a_refund_hold_followed_by_a_store_cancel_deletes_the_cj_order(client, shopify_store, runtime,
                                                                       session_factory):
    cj = FakeCj(responses.mock, balance=0)
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    post_shopify(client, _refunded_version(), topic="orders/updated")
    run_jobs(runtime)
    assert the_order(session_factory).hold_reason == "refunded_after_submission"
    post_shopify(client, cancelled_version(updated_at="2026-11-28T16:50:00-05:00"), topic="orders/cancelled")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "cancelled" and cj.orders[order.cj_order_number]["orderStatus"] == "CANCELLED"


@responses.activate
def test_postage_over_the_cap_in_cjs_answer_is_not_paid(client, shopify_store, runtime, session_factory):
    """Issue 19 (13): the cap was checked on the freight quote only, never on what CJ's create answer charges."""
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"], cap="5.00")  # the quote (4.71) is within the cap
    original = cj.create_order

    def create_charging_more(body):
        answer = original(body)
        answer["data"]["postageAmount"] = 9.80
        return answer
    cj.create_order = create_charging_more
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "postage_over_cap"
    assert order.cj_postage_amount == Decimal("9.80") and "$9.80" in order.hold_detail
    assert cj.ops("payBalance") == [] and cj.ops("confirmOrder") == []
    # Raising the cap decides again: now within it, the order is paid.
    res = client.put("/admin/shipping-rules", headers=admin_headers(),
                     json={"country_code": "US", "logistic_names": ["CJPacket Ordinary"], "max_shipping_cost": "12"})
    assert res.get_json()["data"]["resumed_orders"] == 1
    run_jobs(runtime)
    assert the_order(session_factory).state == "paid" and len(cj.ops("payBalance")) == 1


@responses.activate
def test_amounts_in_another_currency_are_declared_in_usd_or_not_at_all(client, shopify_store, runtime,
                                                                        session_factory):
    """Issue 19 (9): a ¥9,800 order was declared to CJ as 9800.0 (USD)."""
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    yen = shopify_order(currency="JPY", total_price="9800", current_total_price="9800")
    for line in yen["line_items"]:
        line["price"] = "3200"
    post_shopify(client, yen)
    run_jobs(runtime)
    body = cj.ops("createOrderV2")[0][1]
    assert "shopAmount" not in body and all("unitPrice" not in p for p in body["products"])
    order = the_order(session_factory)
    assert order.usd_rate is None
    assert ("paid", "cj_reports_paid") in _history(session_factory, order.id)
    with session_factory() as s:
        assert s.scalars(select(OrderTransition).where(OrderTransition.reason == "amounts_not_declared")).one()
    # With a rate, the next order declares USD amounts and keeps the rate it used.
    client.put("/admin/exchange-rates", headers=admin_headers(), json={"currency": "jpy", "usd_per_unit": "0.0067"})
    post_shopify(client, dict(yen, id=7012345678999, admin_graphql_api_id=None, name="#1058"))
    run_jobs(runtime)
    body = cj.ops("createOrderV2")[1][1]
    assert body["shopAmount"] == 65.66 and [p["unitPrice"] for p in body["products"]] == [21.44, 21.44]


def test_bad_exchange_rates_are_refused(client):
    res = client.put("/admin/exchange-rates", headers=admin_headers(),
                     json=[{"currency": "EURO", "usd_per_unit": "0"}])
    assert res.status_code == 400
    assert set(res.get_json()["error"]["details"]) == {"currency", "usd_per_unit"}
    assert client.put("/admin/exchange-rates", headers=admin_headers(),
                      json={"currency": "USD", "usd_per_unit": "1"}).status_code == 400
    assert client.delete("/admin/exchange-rates/EUR", headers=admin_headers()).status_code == 404


def test_shopify_revenue_is_the_current_total_after_edits():
    """Issue 19 (9): Shopify's current_total_price (after edits and refunds) is the revenue."""
    from adapters.shopify import ADAPTER
    payload = copy.deepcopy(SHOPIFY_SAMPLES["shopify_orders_create"]["body"])
    payload.update(total_price="61.47", current_total_price="41.48", current_subtotal_price="39.98")
    canonical = ADAPTER.normalize(payload, topic="orders/updated")
    assert canonical["total_price"] == "41.48" and canonical["subtotal_price"] == "39.98"
