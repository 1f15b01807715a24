"""WooCommerce end to end: order → CJ → tracking → completed; polling recovers a lost webhook."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import responses
from sqlalchemy import select, update

from service.storage.models import Job, Store
from service.pipeline.polling import poll_store
from service.timeutil import utcnow
from service.jobs.worker import beat
from tests.conftest import admin_headers, compact, post_cj, post_woo, run_jobs, the_order, woo_order
from tests.fakes import FakeCj, FakeWoo
from tests.pipeline.test_full_path import cj_ships, logistic_message


def woo_catalog(client, store_id):
    res = client.put("/admin/sku-mappings", headers=admin_headers(), json=[
        {"store_id": store_id, "store_sku": "CJ-EARBUDS-PRO-WHT", "cj_vid": "vid-earbuds"},
        {"store_id": store_id, "store_variant_id": "1188", "cj_vid": "vid-cable"}])
    assert res.status_code == 200
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "DE", "logistic_names": ["CJPacket Ordinary"], "max_shipping_cost": "8"})


@responses.activate
def test_woo_order_to_cj_to_tracking_to_completed(client, woo_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    woo = FakeWoo(responses.mock)
    woo_catalog(client, woo_store["id"])
    # The sample order is in EUR; CJ takes declared amounts in USD.
    assert client.put("/admin/exchange-rates", headers=admin_headers(),
                      json={"currency": "EUR", "usd_per_unit": "1.08"}).status_code == 200
    assert post_woo(client, woo_order()).status_code == 200
    run_jobs(runtime)
    (create,) = cj.ops("createOrderV2")
    body = create[1]
    assert body["orderNumber"] == f"CJB{woo_store['id']}-4821" and body["platform"] == "Woocommerce"  # CJ's spelling
    assert body["shippingCountryCode"] == "DE" and body["shippingCountry"] == "DE"
    assert body["shippingCustomerName"] == "Jonas Becker" and body["shippingZip"] == "04109"
    assert body["shippingProvince"] == "Leipzig"  # no state in the address: the city stands in
    assert body["products"] == [
        {"vid": "vid-earbuds", "quantity": 1, "storeLineItemId": "7710", "unitPrice": 32.29},  # 29.90 EUR
        {"vid": "vid-cable", "quantity": 2, "storeLineItemId": "7711", "unitPrice": 5.4}]  # 5.00 EUR
    order = the_order(session_factory)
    assert body["shopAmount"] == float((order.total_price * Decimal("1.08")).quantize(Decimal("0.01")))
    assert order.usd_rate == Decimal("1.08")
    assert order.state == "paid"

    cj_ships(client, cj, order)
    run_jobs(runtime)
    assert the_order(session_factory).state == "fulfilled"
    assert [t["tracking_number"] for t in woo.trackings[4821]] == ["CJPKD0000000001US"]
    assert woo.orders[4821]["status"] == "completed" and len(woo.notes[4821]) == 1
    with session_factory() as s:
        assert s.get(Store, woo_store["id"]).adapter_state["tracking_mechanism"] == "shipment_tracking"

    # Woo then reports the completed order: nothing happens twice.
    post_woo(client, dict(woo.orders[4821], date_modified_gmt="2026-12-01T08:00:00"), topic="order.updated")
    post_cj(client, logistic_message(order.cj_order_id, message_id="again"))
    run_jobs(runtime)
    assert len(cj.ops("createOrderV2")) == 1 and len(woo.trackings[4821]) == 1
    assert len(woo.calls("PUT", "/wc/v3/orders/4821")) == 1


def _age_store(session_factory, store_id, hours=2):
    with session_factory() as s:
        s.execute(update(Store).where(Store.id == store_id).values(created_at=utcnow() - timedelta(hours=hours)))
        s.commit()


@responses.activate
def test_polling_recovers_an_order_whose_webhook_never_came(client, woo_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    recent = (utcnow() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    woo = FakeWoo(responses.mock, orders=[woo_order(date_modified_gmt=recent)])
    woo_catalog(client, woo_store["id"])
    _age_store(session_factory, woo_store["id"])
    with session_factory() as s:
        outcome = poll_store(s, store_id=woo_store["id"], runtime=runtime)
        s.commit()
    assert outcome == "polled 1 order(s), 1 not brought by any webhook"
    run_jobs(runtime)
    assert the_order(session_factory).state == "paid" and len(cj.ops("createOrderV2")) == 1
    store = client.get(f"/admin/stores/{woo_store['id']}", headers=admin_headers()).get_json()["data"]
    assert store["webhook_health"]["webhooks_look_disabled"] is True
    assert store["webhook_health"]["orders_only_polling_found"] == 1
    beat(runtime, worker_id="w")
    ready = client.get("/readyz", headers=admin_headers()).get_json()["data"]
    assert ready["ready"] is True and ready["checks"]["stores_with_missed_webhooks"] == [woo_store["id"]]
    assert "POST /admin/stores/<id>/webhooks" in ready["warnings"][0]
    # The next poll does not bring it again.
    with session_factory() as s:
        s.execute(update(Store).values(poll_cursor=utcnow() - timedelta(hours=1)))
        assert poll_store(s, store_id=woo_store["id"], runtime=runtime).endswith("0 not brought by any webhook")
        s.commit()
    assert woo.calls("GET", "/wc/v3/orders")


@responses.activate
def test_polling_skips_states_a_webhook_already_brought(client, woo_store, runtime, session_factory):
    recent = (utcnow() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    body = woo_order(status="on-hold", date_modified_gmt=recent)
    FakeWoo(responses.mock, orders=[body])
    post_woo(client, body, topic="order.created")
    _age_store(session_factory, woo_store["id"])
    with session_factory() as s:
        assert poll_store(s, store_id=woo_store["id"], runtime=runtime) == \
            "polled 1 order(s), 0 not brought by any webhook"
        s.commit()
    store = client.get(f"/admin/stores/{woo_store['id']}", headers=admin_headers()).get_json()["data"]
    assert store["webhook_health"]["webhooks_look_disabled"] is False


@responses.activate
def test_polling_leaves_the_grace_window_to_webhooks(client, woo_store, runtime, session_factory):
    woo = FakeWoo(responses.mock)
    _age_store(session_factory, woo_store["id"])
    with session_factory() as s:
        poll_store(s, store_id=woo_store["id"], runtime=runtime)
        s.commit()
    query = woo.calls("GET", "/wc/v3/orders")[0][2]
    until = datetime.fromisoformat(query["modified_before"])
    assert utcnow() - until >= timedelta(minutes=runtime.settings.webhook_grace_minutes) - timedelta(seconds=5)


def test_poll_jobs_are_queued_for_active_stores_of_every_platform(client, woo_store, shopify_store, runtime,
                                                                   session_factory):
    from service.pipeline.polling import enqueue_store_polls
    from service.storage.models import Store
    with session_factory() as s:
        s.get(Store, shopify_store["id"]).active = False
        s.commit()
        assert enqueue_store_polls(s) == 1
        s.commit()
        (job,) = s.scalars(select(Job).where(Job.kind == "poll_store")).all()
        assert job.payload == {"store_id": woo_store["id"]}
        s.get(Store, shopify_store["id"]).active = True
        s.commit()
        assert enqueue_store_polls(s) == 2  # Shopify is polled too (issue 11)


@responses.activate
def test_order_deleted_cancels_and_order_restored_brings_it_back(client, woo_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    woo = FakeWoo(responses.mock, orders=[woo_order(status="trash")])
    post_woo(client, woo_order(status="on-hold"))
    run_jobs(runtime)
    post_woo(client, {"id": 4821}, topic="order.deleted")
    run_jobs(runtime)
    assert the_order(session_factory).state == "cancelled"
    woo_catalog(client, woo_store["id"])
    woo.orders[4821].update(status="processing")
    post_woo(client, woo_order(status="processing", date_modified_gmt="2026-11-29T08:00:00"), topic="order.restored")
    run_jobs(runtime)
    assert the_order(session_factory).state == "paid" and len(cj.ops("createOrderV2")) == 1


@responses.activate
def test_trash_restore_trash_cancels_twice_and_a_replayed_deletion_does_nothing(client, woo_store, runtime,
                                                                                session_factory):
    """Issue 23 (9): order.deleted was deduplicated forever per order, so the second trashing was ignored."""
    FakeCj(responses.mock)
    woo = FakeWoo(responses.mock, orders=[woo_order(status="trash")])
    post_woo(client, woo_order(status="on-hold"))
    run_jobs(runtime)
    deletion = compact({"id": 4821})
    post_woo(client, raw=deletion, topic="order.deleted")
    run_jobs(runtime)
    assert the_order(session_factory).state == "cancelled"
    woo.orders[4821].update(status="on-hold")
    post_woo(client, woo_order(status="on-hold", date_modified_gmt="2026-11-29T08:00:00"), topic="order.restored")
    run_jobs(runtime)
    assert the_order(session_factory).state != "cancelled"
    # The same signed body, sent again while the order is restored (a replay): the store says no.
    assert post_woo(client, raw=deletion, topic="order.deleted").get_json()["data"]["status"] == "accepted"
    run_jobs(runtime)
    assert the_order(session_factory).state != "cancelled"
    woo.orders[4821].update(status="trash")  # trashed again for real
    post_woo(client, raw=deletion, topic="order.deleted")
    run_jobs(runtime)
    assert the_order(session_factory).state == "cancelled"


@responses.activate
def test_delivery_without_line_items_is_completed_from_the_api(client, woo_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    FakeWoo(responses.mock)
    woo_catalog(client, woo_store["id"])
    post_woo(client, woo_order(line_items=[]))
    run_jobs(runtime)
    assert len(cj.ops("createOrderV2")[0][1]["products"]) == 2


@responses.activate
def test_register_webhooks_through_the_admin_api(client, woo_store, runtime, session_factory):
    woo = FakeWoo(responses.mock)
    res = client.post(f"/admin/stores/{woo_store['id']}/webhooks", headers=admin_headers())
    assert res.status_code == 202
    assert len(responses.calls) == 0  # nothing is called in the request
    run_jobs(runtime)
    assert sorted(w["topic"] for w in woo.webhooks) == ["order.created", "order.deleted", "order.restored",
                                                        "order.updated"]
    assert {w["delivery_url"] for w in woo.webhooks} == {"https://bridge.example.com/webhooks/woocommerce"}
    store = client.get(f"/admin/stores/{woo_store['id']}", headers=admin_headers()).get_json()["data"]
    assert len(store["adapter_state"]["webhook_registration"]["created"]) == 4


def test_register_webhooks_is_refused_where_orders_are_polled(client):
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "ebay", "shop_domain": "cjbridge_demo_store",
        "api_credentials": {"client_id": "a", "client_secret": "b", "refresh_token": "c"}})
    res = client.post(f"/admin/stores/{res.get_json()['data']['id']}/webhooks", headers=admin_headers())
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "not_supported"


def test_woo_store_without_secret_gets_a_generated_one(client):
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "woocommerce", "site_url": "https://other.example.org"})
    secret = res.get_json()["data"]["webhook_secret"]
    assert res.status_code == 201 and len(secret) >= 40 and secret.isalnum()
    again = client.get("/admin/stores", headers=admin_headers()).get_data(as_text=True)
    assert secret not in again


@responses.activate
def test_status_updates_after_submission_are_not_reported_as_changes(client, woo_store, runtime, session_factory):
    FakeCj(responses.mock)
    woo_catalog(client, woo_store["id"])
    post_woo(client, woo_order())
    run_jobs(runtime)
    post_woo(client, woo_order(status="completed", date_modified_gmt="2026-12-01T08:00:00"), topic="order.updated")
    changed = woo_order(status="completed", date_modified_gmt="2026-12-01T09:00:00")
    changed["shipping"]["address_1"] = "Neue Strasse 1"
    post_woo(client, changed, topic="order.updated")
    run_jobs(runtime)
    from service.storage.models import OrderTransition
    with session_factory() as s:
        reasons = [t.reason for t in s.scalars(select(OrderTransition).order_by(OrderTransition.id))]
    # The address change (after CJ's order was paid), not the status change.
    assert reasons.count("edit_needs_attention") == 1
