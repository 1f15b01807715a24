"""A TikTok Shop order end to end: signed webhook → order read with a signed call → exactly one CJ order."""
from __future__ import annotations

import json
import random

import responses
from sqlalchemy import func, select

from adapters.tiktok_signing import webhook_signature
from service.storage.models import Order, Store, WebhookEvent
from tests.conftest import admin_headers, load_fixture, run_jobs
from tests.fakes import TIKTOK_API, FakeCj, FakeTikTok

SAMPLES = load_fixture("tiktok_samples.json")
APP_KEY, APP_SECRET = "6test0appkey0abc", "testsecret0000000000000000000000NOTREAL"
SHOP = "7495123456789012345"
CREDENTIALS = {"client_id": APP_KEY, "client_secret": APP_SECRET, "refresh_token": "TTP_first_refresh_NOT_REAL",
               "shop_cipher": "ROW_TestCipherAAAAexampleNOTREAL"}


def register(client) -> int:
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "tiktok_shop", "shop_domain": SHOP, "api_base_url": TIKTOK_API, "api_credentials": CREDENTIALS})
    assert res.status_code == 201, res.get_json()
    store_id = res.get_json()["data"]["id"]
    res = client.put("/admin/sku-mappings", headers=admin_headers(), json=[
        {"store_id": store_id, "store_variant_id": "1729512345678901001", "cj_vid": "2409150812345678900"},
        {"store_id": store_id, "store_sku": "CJB-COASTER-SET4", "cj_vid": "2409150812345678911"}])
    assert res.status_code == 200
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "US", "logistic_names": ["CJPacket Ordinary"], "max_shipping_cost": "10.00"})
    return store_id


def order_at_cj(client, runtime, *, prepare=None) -> tuple[FakeCj, FakeTikTok, int]:
    """A registered shop whose sample order (as prepare(order) leaves it) was notified and has gone to CJ."""
    cj, tiktok = FakeCj(responses.mock), FakeTikTok(responses.mock)
    store_id = register(client)
    if prepare is not None:
        prepare(tiktok.orders["577123456789012345"])
    deliver(client, SAMPLES["tiktok_order_status_change_webhook"]["body"])
    run_jobs(runtime)
    return cj, tiktok, store_id


def deliver(client, body: dict, *, secret=APP_SECRET, signature: str | None = None):
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if signature != "":
        headers["Authorization"] = signature or webhook_signature(APP_KEY, secret, raw)
    return client.post("/webhooks/tiktok_shop", data=raw, headers=headers)


@responses.activate
def test_a_signed_webhook_reads_the_order_and_makes_exactly_one_cj_order(client, runtime, session_factory):
    """Issue 14: TikTok Shop as the fourth platform."""
    cj = FakeCj(responses.mock)
    tiktok = FakeTikTok(responses.mock)
    store_id = register(client)
    status_change = SAMPLES["tiktok_order_status_change_webhook"]["body"]
    res = deliver(client, status_change)
    assert res.status_code == 200 and res.data == b""  # TikTok's contract: 200, empty body
    run_jobs(runtime)
    (create,) = [body for op, body in cj.ops("createOrderV2")]
    assert create["platform"] == "tiktok" and create["shippingCustomerName"] == "Alex Sample"
    assert sorted((p["vid"], p["quantity"]) for p in create["products"]) == [
        ("2409150812345678900", 2), ("2409150812345678911", 1)]  # two mug units are one line of 2
    assert create["shippingZip"] == "95110" and create["shippingProvince"] == "California"
    path, query = tiktok.requests[0]
    assert path == "/order/202309/orders" and query["ids"] == "577123456789012345"
    assert query["shop_cipher"] == CREDENTIALS["shop_cipher"] and len(query["sign"]) == 64
    # The first call refreshed the token, and the refresh token TikTok handed back is the one kept.
    assert [r["refresh_token"] for r in tiktok.refreshes] == ["TTP_first_refresh_NOT_REAL"]
    with session_factory() as s:
        creds = runtime.box.open_json(s.get(Store, store_id).credentials_enc)
        assert creds["refresh_token"] == "TTP_fake_refresh_token_NOT_REAL"
        assert creds["granted_access_token"] == "TTP_fake_new_access_token_NOT_REAL"
        order = s.scalars(select(Order)).one()
        assert order.state in ("paid", "submitted") and order.platform_order_id == "577123456789012345"


@responses.activate
def test_deliveries_three_times_shuffled_make_one_cj_order(client, runtime, session_factory):
    cj = FakeCj(responses.mock)
    FakeTikTok(responses.mock)
    register(client)
    base = SAMPLES["tiktok_order_status_change_webhook"]["body"]
    on_hold = dict(base, tts_notification_id="n-hold", data=dict(base["data"], order_status="ON_HOLD",
                                                                 update_time=base["data"]["update_time"] - 60))
    address = {"type": 3, "tts_notification_id": "n-address", "shop_id": SHOP, "timestamp": base["timestamp"] + 5,
               "data": {"order_id": base["data"]["order_id"], "update_time": base["data"]["update_time"]}}
    chat = {"type": 14, "tts_notification_id": "n-chat", "shop_id": SHOP, "timestamp": base["timestamp"],
            "data": {"conversation_id": "c1"}}
    deliveries = [base, on_hold, address, chat] * 3
    random.Random(14).shuffle(deliveries)
    for body in deliveries:
        assert deliver(client, body).status_code == 200
        run_jobs(runtime)
    assert len(cj.ops("createOrderV2")) == 1
    with session_factory() as s:
        assert s.scalar(select(func.count(WebhookEvent.id))) == 4  # each delivery once; repeats were duplicates


def test_a_bad_or_missing_signature_is_401_and_nothing_is_stored(client, session_factory):
    register(client)
    body = SAMPLES["tiktok_order_status_change_webhook"]["body"]
    assert deliver(client, body, secret="not-the-app-secret").status_code == 401
    assert deliver(client, body, signature="").status_code == 401
    assert deliver(client, dict(body, shop_id="7000000000000000000")).status_code == 401  # another shop
    with session_factory() as s:
        assert s.scalar(select(func.count(WebhookEvent.id))) == 0


def test_a_store_without_its_app_credentials_is_refused(client):
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "tiktok_shop", "shop_domain": SHOP, "api_credentials": {"client_id": APP_KEY}})
    assert res.status_code == 400 and "shop_cipher" in res.get_json()["error"]["message"] + json.dumps(
        res.get_json()["error"].get("details"))


@responses.activate
def test_a_refused_refresh_stops_the_job_with_the_fix_and_deauthorization_deactivates(client, runtime,
                                                                                      session_factory):
    from service.storage.models import Job
    FakeCj(responses.mock)
    tiktok = FakeTikTok(responses.mock)
    tiktok.refresh_answer = {"code": 105003, "message": "refresh token expired", "data": {}}
    store_id = register(client)
    deliver(client, SAMPLES["tiktok_order_status_change_webhook"]["body"])
    run_jobs(runtime)
    with session_factory() as s:
        job = s.scalars(select(Job).where(Job.kind == "process_event")).one()
        assert job.status == "dead" and job.last_error.startswith("store_auth_failed")
        assert "authorize the app again" in job.last_error
    deauthorized = {"type": 6, "tts_notification_id": "n-deauth", "shop_id": SHOP,
                    "timestamp": 4102444800, "data": {"message": "the seller removed the app"}}
    assert deliver(client, deauthorized).status_code == 200
    run_jobs(runtime)
    with session_factory() as s:
        assert s.get(Store, store_id).active is False


@responses.activate
def test_an_order_no_webhook_brought_is_found_by_the_poll_and_counted(client, runtime, session_factory,
                                                                     monkeypatch):
    from datetime import datetime, timedelta
    from service.pipeline import polling
    cj = FakeCj(responses.mock)
    tiktok = FakeTikTok(responses.mock)
    store_id = register(client)
    order = tiktok.orders["577123456789012345"]
    changed = datetime(2025, 11, 28, 15, 19, 59)
    second = dict(order, id="577123456789099999", update_time=order["update_time"] + 30)
    tiktok.orders[second["id"]] = second
    # The first order's notification came; the second's never did.
    deliver(client, SAMPLES["tiktok_order_status_change_webhook"]["body"])
    run_jobs(runtime)
    with session_factory() as s:
        s.get(Store, store_id).poll_cursor = changed - timedelta(minutes=5)
        s.commit()
    monkeypatch.setattr(polling, "utcnow", lambda: changed + timedelta(minutes=30))
    with session_factory() as s:
        outcome = polling.poll_store(s, store_id=store_id, runtime=runtime)
        s.commit()
    assert outcome == "polled 2 order(s), 1 not brought by any webhook"
    run_jobs(runtime)
    assert sorted(b["orderNumber"].rsplit("-", 1)[1] for _op, b in cj.ops("createOrderV2")) == [
        "577123456789012345", "577123456789099999"]
    (search,) = [q for path, q in tiktok.requests if path.endswith("/search")]
    assert search["sort_field"] == "update_time" and len(search["sign"]) == 64
    with session_factory() as s:
        assert s.get(Store, store_id).webhook_misses == 1


def _ship_at_cj(client, cj, session_factory, carrier="YunExpress Global Direct line", tracking="YT2612345678901234"):
    from tests.pipeline.test_full_path import logistic_message
    from tests.conftest import post_cj
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
    cj.ship(order.cj_order_number, tracking)
    cj.orders[order.cj_order_number].update(orderStatus="SHIPPED", logisticName=carrier)
    post_cj(client, logistic_message(order.cj_order_id, tracking=tracking))


@responses.activate
def test_tracking_is_shipped_once_also_after_a_timeout_on_the_ship_call(client, runtime, session_factory):
    from tests.pipeline.test_exactly_once import _make_due
    cj, tiktok, store_id = order_at_cj(client, runtime)
    tiktok.lose_next_ship_answer = 1  # TikTok marks it shipped, the answer is lost
    _ship_at_cj(client, cj, session_factory)
    run_jobs(runtime)
    _make_due(session_factory)
    run_jobs(runtime)
    (shipped,) = tiktok.shipped  # once
    assert shipped["shipping_provider_id"] == "7117858858072016701"  # YunExpress, from the option's providers
    assert shipped["order_line_item_ids"] == ["577123456789012401", "577123456789012402", "577123456789012403"]
    assert shipped["tracking_number"] == "YT2612345678901234"
    with session_factory() as s:
        assert s.scalars(select(Order)).one().state == "fulfilled"


@responses.activate
def test_the_delivery_options_providers_are_read_once_and_kept(client, runtime, session_factory):
    cj, tiktok, store_id = order_at_cj(client, runtime)
    _ship_at_cj(client, cj, session_factory)
    run_jobs(runtime)
    assert len(tiktok.shipped) == 1
    with session_factory() as s:
        state = s.get(Store, store_id).adapter_state
        assert [p["name"] for p in state["shipping_providers"]["7091146600000000001"]] == ["USPS", "YunExpress"]
    assert len([p for p, _q in tiktok.requests if "/shipping_providers" in p]) == 1


@responses.activate
def test_a_carrier_tiktok_does_not_offer_holds_the_order_with_the_fix(client, runtime, session_factory):
    cj, tiktok, store_id = order_at_cj(client, runtime)
    _ship_at_cj(client, cj, session_factory, carrier="CJPacket Ordinary", tracking="CJPKD0000000001US")
    run_jobs(runtime)
    assert tiktok.shipped == []
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
        assert order.hold_reason == "carrier_unmapped" and "it offers: USPS, YunExpress" in order.hold_detail
        assert "CARRIER_CODES 'tiktok_shop:CJPacket Ordinary=" in order.hold_detail


@responses.activate
def test_an_order_tiktok_ships_itself_is_not_shipped_by_us_and_the_history_says_so(client, runtime,
                                                                                  session_factory):
    cj, tiktok, _store_id = order_at_cj(client, runtime, prepare=lambda order: order.update(shipping_type="TIKTOK"))
    _ship_at_cj(client, cj, session_factory)
    run_jobs(runtime)
    assert tiktok.shipped == []
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
        reasons = [t.reason for t in order.transitions]
        assert "write_back_platform_logistics" in reasons
        assert any("TikTok ships this order itself" in (t.detail or "") for t in order.transitions)


def _cancelled_in_tiktok(client, tiktok, *, pending_first=True):
    order = tiktok.orders["577123456789012345"]
    cancel = SAMPLES["tiktok_cancellation_status_change_webhook"]["body"]
    if pending_first:  # the buyer asks; the order is still to be shipped
        order["update_time"] += 60
        assert deliver(client, cancel).status_code == 200
    order.update(status="CANCELLED", update_time=order["update_time"] + 120)
    done = dict(cancel, tts_notification_id="7441928374650199998",
                data=dict(cancel["data"], cancel_status="CANCELLATION_REQUEST_COMPLETE"))
    assert deliver(client, done).status_code == 200


@responses.activate
def test_a_cancellation_before_cj_payment_deletes_the_cj_order(make_app, session_factory):
    app = make_app(CJ_AUTO_PAY="false")
    client, runtime = app.test_client(), app.extensions["cj_bridge"]
    runtime.cj._sleep = lambda _s: None
    cj, tiktok, store_id = order_at_cj(client, runtime)
    with session_factory() as s:
        assert s.scalars(select(Order)).one().state == "submitted"  # at CJ, not paid
    _cancelled_in_tiktok(client, tiktok)
    run_jobs(runtime)
    with session_factory() as s:
        assert s.scalars(select(Order)).one().state == "cancelled"
    assert len(cj.ops("deleteOrder")) == 1 and cj.ops("payBalance") == []


@responses.activate
def test_a_cancellation_after_cj_payment_needs_the_merchant(client, runtime, session_factory):
    cj, tiktok, store_id = order_at_cj(client, runtime)
    _cancelled_in_tiktok(client, tiktok, pending_first=False)
    run_jobs(runtime)
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
        assert order.cj_pay_state == "paid" and order.hold_reason == "cancel_needs_attention"
    assert cj.ops("deleteOrder") == []


@responses.activate
def test_a_refused_refresh_marks_the_store_through_its_poll(client, runtime, session_factory):
    """Issue 14 (1): a refused refresh holds the store with a Resolution sentence."""
    from service.pipeline import polling
    FakeCj(responses.mock)
    tiktok = FakeTikTok(responses.mock)
    tiktok.refresh_answer = {"code": 105003, "message": "refresh token expired", "data": {}}
    store_id = register(client)
    from datetime import timedelta
    from service.timeutil import utcnow
    with session_factory() as s:
        s.get(Store, store_id).created_at = utcnow() - timedelta(hours=1)  # a window to poll
        s.commit()
        outcome = polling.poll_store(s, store_id=store_id, runtime=runtime)
        s.commit()
    assert outcome.startswith("needs attention: store_auth_failed") and "Resolution:" in outcome
    health = client.get(f"/admin/stores/{store_id}", headers=admin_headers()).get_json()["data"]["webhook_health"]
    assert health["poll_needs_attention"] is True


def _address_changed_in_tiktok(client, tiktok, **address):
    """The buyer edits the address in TikTok; TikTok sends RECIPIENT_ADDRESS_UPDATE (3) naming the order."""
    order = tiktok.orders["577123456789012345"]
    order["recipient_address"].update(address)
    order["update_time"] += 300
    body = {"type": 3, "tts_notification_id": "7441928374650190003", "shop_id": SHOP,
            "timestamp": SAMPLES["tiktok_order_status_change_webhook"]["body"]["timestamp"],
            "data": {"order_id": order["id"], "update_time": order["update_time"]}}
    assert deliver(client, body).status_code == 200


@responses.activate
def test_an_address_edit_after_cj_payment_holds_the_order_with_the_difference(client, runtime, session_factory):
    """Second thoughts: the buyer moves the parcel after CJ was paid, which CJ's API cannot change."""
    cj, tiktok, store_id = order_at_cj(client, runtime)
    _address_changed_in_tiktok(client, tiktok, address_line1="77 Other Street", postal_code="95112")
    run_jobs(runtime)
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
        assert order.cj_pay_state == "paid" and order.hold_reason == "edit_needs_attention"
        assert "address1" in order.hold_detail and "zip" in order.hold_detail and "Resolution:" in order.hold_detail
        assert order.canonical["shipping_address"]["address1"] == "77 Other Street"
    assert len(cj.ops("createOrderV2")) == 1  # nothing sent again


@responses.activate
def test_an_address_edit_before_cj_payment_replaces_the_cj_order(make_app, session_factory):
    app = make_app(CJ_AUTO_PAY="false")
    client, runtime = app.test_client(), app.extensions["cj_bridge"]
    runtime.cj._sleep = lambda _s: None
    cj, tiktok, store_id = order_at_cj(client, runtime)
    _address_changed_in_tiktok(client, tiktok, address_line1="77 Other Street", postal_code="95112")
    run_jobs(runtime)
    creates = [body for _op, body in cj.ops("createOrderV2")]
    assert len(creates) == 2 and creates[-1]["shippingAddress"] == "77 Other Street"
    assert creates[-1]["shippingZip"] == "95112" and len(cj.ops("deleteOrder")) == 1
    assert cj.ops("payBalance") == []


@responses.activate
def test_a_unit_cancelled_on_its_own_is_not_sent_and_after_payment_holds_the_order(client, runtime,
                                                                                    session_factory):
    """TikTok cancels single units (a partial cancellation): the line items say CANCELLED, the order does not."""
    def one_mug_cancelled(order):
        order["line_items"][1]["display_status"] = "CANCELLED"  # one of the two mugs
    cj, tiktok, _store_id = order_at_cj(client, runtime, prepare=one_mug_cancelled)
    order = tiktok.orders["577123456789012345"]
    (create,) = [body for _op, body in cj.ops("createOrderV2")]
    assert sorted((p["vid"], p["quantity"]) for p in create["products"]) == [
        ("2409150812345678900", 1), ("2409150812345678911", 1)]

    # After CJ was paid, the coaster is cancelled too: CJ cannot change a paid order, so the merchant decides.
    order["line_items"][2]["display_status"] = "CANCELLED"
    order["update_time"] += 600
    deliver(client, dict(SAMPLES["tiktok_order_status_change_webhook"]["body"], tts_notification_id="74419283746501",
                         data=dict(SAMPLES["tiktok_order_status_change_webhook"]["body"]["data"],
                                   update_time=order["update_time"])))
    run_jobs(runtime)
    with session_factory() as s:
        held = s.scalars(select(Order)).one()
        assert held.hold_reason == "edit_needs_attention" and "1 sent to CJ, 0 now" in held.hold_detail

    # CJ ships what it was paid for: only the live mug unit is marked shipped (TikTok refuses cancelled units,
    # and with them the whole call), and the history says why the coaster is not.
    _ship_at_cj(client, cj, session_factory)
    run_jobs(runtime)
    (shipped,) = tiktok.shipped
    assert shipped["order_line_item_ids"] == ["577123456789012401"]
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
        assert any("1 unit(s) of this parcel were cancelled" in (t.detail or "") for t in order.transitions)


@responses.activate
def test_the_hand_over_deadline_is_alerted_before_it_passes_and_a_late_write_back_says_so(client, runtime,
                                                                                         session_factory):
    """Issue 14 (5): tracking back within TikTok's handling time, or the merchant hears of it in time."""
    import time as clock
    from service.pipeline.alerts import current_alerts
    cj, tiktok, _store_id = order_at_cj(client, runtime, prepare=lambda order: order.update(
        rts_sla_time=int(clock.time()) + 6 * 3600))  # due in 6 hours
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
        assert order.ship_by is not None
        (alert,) = [a for a in current_alerts(s, runtime=runtime) if a.kind == "ship_by"]
        assert f"(id {order.id})" in alert.message and "Resolution:" in alert.message
    summary = client.get(f"/admin/orders/{order.id}", headers=admin_headers()).get_json()["data"]
    assert summary["ship_by"].endswith("Z")
    # Handed over from Seller Center meanwhile (TikTok shows it collected): the deadline is met, no alert.
    with session_factory() as s:
        s.get(Order, order.id).financial_status = "awaiting_collection"
        s.commit()
        assert not [a for a in current_alerts(s, runtime=runtime) if a.kind == "ship_by"]
        s.get(Order, order.id).financial_status = "awaiting_shipment"
        s.commit()

    # The deadline passes before CJ ships: the tracking still goes back, and the history says it was late.
    tiktok.orders["577123456789012345"]["rts_sla_time"] = int(clock.time()) - 60
    _ship_at_cj(client, cj, session_factory)
    run_jobs(runtime)
    assert len(tiktok.shipped) == 1
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
        assert any("after the order's handling time ended" in (t.detail or "") for t in order.transitions)
        assert not [a for a in current_alerts(s, runtime=runtime) if a.kind == "ship_by"]  # shipped: cleared


@responses.activate
def test_a_tiktok_order_cj_splits_is_shipped_per_parcel_with_its_own_units(client, runtime, session_factory):
    from tests.conftest import post_cj
    from tests.pipeline.test_cj_order_parts import _part
    from tests.pipeline.test_full_path import logistic_message
    cj, tiktok, store_id = order_at_cj(client, runtime)
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
    mug, coaster = "2409150812345678900", "2409150812345678911"
    _part(cj, "CJPART0001", order.cj_order_number, mug, 2)
    _part(cj, "CJPART0002", order.cj_order_number, coaster, 1)
    cj.orders[order.cj_order_number]["orderStatus"] = "CANCELLED"
    post_cj(client, {"messageId": "split-1", "type": "ORDERSPLIT", "messageType": "INSERT", "params": {
        "originalOrderId": order.cj_order_id, "orderSplitTime": "2026-11-30 10:00:00", "splitOrderList": [
            {"orderCode": "CJPART0001", "createAt": "2026-11-30 10:00:00", "orderStatus": 300,
             "productList": [{"vid": mug, "quantity": 2}]},
            {"orderCode": "CJPART0002", "createAt": "2026-11-30 10:00:00", "orderStatus": 300,
             "productList": [{"vid": coaster, "quantity": 1}]}]}})
    run_jobs(runtime)
    for n, (part, tracking) in enumerate((("CJPART0001", "YT2600000000000001"), ("CJPART0002", "YT2600000000000002"))):
        cj.orders[part].update(trackNumber=tracking, orderStatus="SHIPPED", logisticName="YunExpress Global")
        post_cj(client, logistic_message(part, tracking=tracking, message_id=f"l-{n}"))
        run_jobs(runtime)
    assert [(s["tracking_number"], s["order_line_item_ids"]) for s in tiktok.shipped] == [
        ("YT2600000000000001", ["577123456789012401", "577123456789012402"]),
        ("YT2600000000000002", ["577123456789012403"])]
    with session_factory() as s:
        assert s.scalars(select(Order)).one().state == "fulfilled"


@responses.activate
def test_a_dry_run_order_is_not_alerted_for_its_hand_over_deadline(make_app, session_factory):
    import time as clock
    from service.pipeline.alerts import current_alerts
    app = make_app(CJ_DRY_RUN="true")
    client, runtime = app.test_client(), app.extensions["cj_bridge"]
    order_at_cj(client, runtime, prepare=lambda order: order.update(rts_sla_time=int(clock.time()) + 3600))
    with session_factory() as s:
        assert s.scalars(select(Order)).one().hold_reason == "dry_run"
        assert not [a for a in current_alerts(s, runtime=runtime) if a.kind == "ship_by"]
