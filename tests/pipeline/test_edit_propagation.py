"""Store edits after an order reached CJ: re-created while CJ's order is unpaid, held with the diff once paid."""
from __future__ import annotations

import responses
from sqlalchemy import select

from tests.conftest import admin_headers, post_shopify, run_jobs, shopify_order, the_order
from tests.fakes import FakeCj, FakeShopify, envelope
from tests.pipeline.test_full_path import cj_ships, place_mapped_order

NEW_STREET = "12 Corrected Road"


def _moved(updated_at="2026-11-28T17:00:00-05:00", **changes):
    """The sample order with its street corrected in the store, a later state of it."""
    body = shopify_order(updated_at=updated_at, **changes)
    body["shipping_address"] = dict(body["shipping_address"], address1=NEW_STREET, zip="97478")
    return body


def _creates(cj):
    return [c[1] for c in cj.ops("createOrderV2")]


@responses.activate
def test_an_address_corrected_before_payment_re_creates_the_cj_order_once(app_with_store, session_factory):
    """Issue 11 (3): an address corrected in the store after the order reached CJ shipped to the old address."""
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, store["id"])
    first = the_order(session_factory)
    assert first.state == "submitted" and len(_creates(cj)) == 1

    post_shopify(client, _moved(), topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert [c[1] for c in cj.ops("deleteOrder")] == [{"orderId": first.cj_order_id}]
    assert cj.orders[first.cj_order_number]["orderStatus"] == "CANCELLED"
    creates = _creates(cj)
    assert len(creates) == 2
    assert creates[1]["orderNumber"] == f"{first.cj_order_number}-R1"
    assert creates[1]["shippingAddress"] == NEW_STREET and creates[1]["shippingZip"] == "97478"
    assert order.state == "submitted" and order.cj_order_number == f"{first.cj_order_number}-R1"
    assert order.cj_attempt_history[0]["order_number"] == first.cj_order_number

    # The same edit delivered again, and the job run late or twice: nothing more at CJ.
    post_shopify(client, _moved(), topic="orders/updated", webhook_id="again")
    run_jobs(runtime)
    assert len(_creates(cj)) == 2 and len(cj.ops("deleteOrder")) == 1


@responses.activate
def test_a_stale_resubmission_never_deletes_a_newer_cj_order(app_with_store, session_factory):
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, store["id"])
    post_shopify(client, _moved(), topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    with session_factory() as s:
        # The job that replaced attempt 0, delivered again (a retry after a lost commit, say).
        from service.jobs.queue import enqueue
        enqueue(s, kind="resubmit_edited_order", payload={"order_id": order.id, "cj_attempt": 0})
        s.commit()
    run_jobs(runtime)
    assert len(cj.ops("deleteOrder")) == 1 and len(_creates(cj)) == 2
    assert cj.orders[order.cj_order_number]["orderStatus"] != "CANCELLED"


@responses.activate
def test_an_address_changed_after_payment_is_held_with_what_changed(client, shopify_store, runtime,
                                                                     session_factory):
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    assert the_order(session_factory).state == "paid"
    post_shopify(client, _moved(), topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "edit_needs_attention"
    assert "the shipping address (address1, zip)" in order.hold_detail and "Resolution:" in order.hold_detail
    assert cj.ops("deleteOrder") == [] and len(_creates(cj)) == 1
    # The merchant had CJ change it (or accepts the original): acknowledge, and the order carries on.
    res = client.post(f"/admin/orders/{order.id}/acknowledge", headers=admin_headers())
    assert res.status_code == 200 and res.get_json()["data"]["state"] == "paid"


@responses.activate
def test_a_payment_racing_the_edit_is_caught_by_cjs_answer(app_with_store, session_factory):
    """Paid on My CJ after our last look: CJ's status decides, nothing is deleted, the merchant is asked."""
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, store["id"])
    order = the_order(session_factory)
    cj.orders[order.cj_order_number]["orderStatus"] = "UNSHIPPED"
    post_shopify(client, _moved(), topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.hold_reason == "edit_needs_attention" and order.cj_pay_state == "paid"
    assert cj.ops("deleteOrder") == [] and len(_creates(cj)) == 1


@responses.activate
def test_no_payment_goes_out_while_the_cj_order_is_being_replaced(app_with_store, session_factory):
    from service.pipeline.forward import forward_order
    from tests.pipeline.test_forward import run_first
    client, runtime, store = app_with_store(CJ_AUTO_PAY="true")
    cj = FakeCj(responses.mock, balance=0.0)  # created, then held for the balance: unpaid
    place_mapped_order(client, runtime, store["id"])
    first = the_order(session_factory)
    assert first.hold_reason == "insufficient_balance"
    cj.balance = 100.0
    post_shopify(client, _moved(), topic="orders/updated")
    run_first(runtime, session_factory, "process_event")
    # The balance came back: a payment job reaches the order before the resubmission does.
    with session_factory() as s:
        assert forward_order(s, order_id=first.id, runtime=runtime) == "held"
        s.commit()
    assert cj.ops("payBalance") == []
    run_jobs(runtime)
    order = the_order(session_factory)
    assert cj.orders[first.cj_order_number]["orderStatus"] == "CANCELLED" and cj.ops("payBalance") == []
    assert order.cj_order_number.endswith("-R1") and order.cj_pay_state == "paid"  # paid in its create call


@responses.activate
def test_cj_refusing_the_delete_holds_and_a_retry_replaces_it(app_with_store, session_factory):
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, store["id"])
    cj.fail_next["deleteOrder"] = [(200, envelope(code=1602003, message="order status does not allow deletion"))]
    post_shopify(client, _moved(), topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.hold_reason == "edit_needs_attention" and "delete it on My CJ" in order.hold_detail
    assert len(_creates(cj)) == 1
    client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert len(_creates(cj)) == 2 and order.cj_order_number.endswith("-R1") and order.state == "submitted"


@responses.activate
def test_a_change_after_shipping_is_only_noted(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    FakeShopify(responses.mock)
    place_mapped_order(client, runtime, shopify_store["id"])
    cj_ships(client, cj, the_order(session_factory))
    run_jobs(runtime)
    before = the_order(session_factory).state
    post_shopify(client, _moved(updated_at="2026-12-01T10:00:00-05:00"), topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == before and cj.ops("deleteOrder") == [] and len(_creates(cj)) == 1
    from service.storage.models import OrderTransition
    with session_factory() as s:
        notes = [t.reason for t in s.scalars(select(OrderTransition).where(OrderTransition.order_id == order.id))]
    assert "changed_after_shipping" in notes


@responses.activate
def test_a_dry_run_edit_records_the_delete_and_the_new_request(app_with_store, session_factory):
    client, runtime, store = app_with_store(CJ_DRY_RUN="true", CJ_API_KEY=None)
    place_mapped_order(client, runtime, store["id"])
    assert the_order(session_factory).hold_reason == "dry_run"
    post_shopify(client, _moved(), topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    # Nothing was at CJ: the edited order is simply what dry-run would now send.
    detail = client.get(f"/admin/orders/{order.id}", headers=admin_headers()).get_json()["data"]
    assert order.hold_reason == "dry_run" and NEW_STREET in str(detail["dry_run_request"])
    assert len(responses.calls) == 0


@responses.activate
def test_an_edit_while_the_create_outcome_is_unknown_looks_cj_up_first(app_with_store, session_factory):
    """The create timed out: if CJ never got it, the edited order goes under the same number (no new attempt)."""
    from sqlalchemy import update
    from service.storage.models import Order
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    place_mapped_order(client, runtime, store["id"])
    first = the_order(session_factory)
    # As if our create had been sent and its answer lost, and CJ never had it.
    del cj.orders[first.cj_order_number]
    with session_factory() as s:
        s.execute(update(Order).values(cj_create_state="pending", cj_order_id=None, state="ready"))
        s.commit()
    post_shopify(client, _moved(), topic="orders/updated")
    run_jobs(runtime)
    order = the_order(session_factory)
    assert cj.ops("deleteOrder") == []
    assert _creates(cj)[-1]["orderNumber"] == first.cj_order_number == order.cj_order_number
    assert _creates(cj)[-1]["shippingAddress"] == NEW_STREET and order.state == "submitted"


ORDER_EDIT = {"order_edit": {"id": 78912345, "app_id": None, "created_at": "2026-11-28T17:00:00-05:00",
                             "notify_customer": False, "order_id": 7012345678901, "staff_note": "",
                             "user_id": 98765, "line_items": {"additions": [], "removals": []},
                             "discounts": {"line_item": {"additions": [], "removals": []}},
                             "shipping_lines": {"additions": [], "removals": []}}}


@responses.activate
def test_orders_edited_reads_the_order_whole_and_propagates_the_edit(app_with_store, session_factory):
    """Issue 11 (3): orders/edited carries the edit, not the order; the order is read through GraphQL."""
    import copy as _copy
    from tests.conftest import load_fixture
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    place_mapped_order(client, runtime, store["id"])
    node = _copy.deepcopy(load_fixture("shopify_graphql_orders_page.json")["response"]["data"]["orders"]["nodes"][0])
    node["updatedAt"] = "2026-11-28T22:00:00Z"
    node["lineItems"]["nodes"][0]["currentQuantity"] = 1  # one unit removed in the edit
    shop.polled_orders = [node]
    assert post_shopify(client, ORDER_EDIT, topic="orders/edited").status_code == 200
    run_jobs(runtime)
    (read,) = shop.operations("OneOrder")
    assert read["variables"] == {"id": "gid://shopify/Order/7012345678901"}
    creates = _creates(cj)
    assert len(creates) == 2 and creates[1]["orderNumber"].endswith("-R1")
    assert sorted(p["quantity"] for p in creates[1]["products"]) == [1, 1]
    assert len(cj.ops("deleteOrder")) == 1
