"""POST /webhooks/shopify: verify, dedupe, store-and-enqueue, answer."""
from __future__ import annotations


import pytest
from sqlalchemy import func, select

from service.storage.models import DeliveryKey, Job, WebhookEvent
from tests.conftest import (SHOP_DOMAIN, SHOPIFY_SAMPLES, SHOPIFY_SECRET, admin_headers, compact, post_shopify,
                            shopify_order)


def _count(session_factory, model):
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_sample_delivery_with_its_recorded_signature_is_accepted(client, shopify_store, session_factory):
    sample = SHOPIFY_SAMPLES["shopify_orders_create"]
    raw = compact(sample["body"])
    res = client.post("/webhooks/shopify", data=raw, headers=sample["headers"])
    assert res.status_code == 200
    assert res.get_json()["data"]["status"] == "accepted"
    with session_factory() as s:
        event = s.scalars(select(WebhookEvent)).one()
        assert event.raw_body == raw  # stored byte for byte
        assert event.topic == "orders/create"
        job = s.scalars(select(Job)).one()
        assert job.kind == "process_event" and job.payload == {"event_id": event.id}


def test_bad_signature_is_401_and_nothing_stored(client, shopify_store, session_factory):
    res = post_shopify(client, shopify_order(), secret="some-other-secret")
    assert res.status_code == 401
    assert res.get_json()["error"]["code"] == "unverified"
    assert _count(session_factory, WebhookEvent) == 0 and _count(session_factory, Job) == 0


def test_missing_signature_is_401(client, shopify_store, session_factory):
    res = post_shopify(client, shopify_order(), headers={"X-Shopify-Hmac-Sha256": None})
    assert res.status_code == 401
    assert _count(session_factory, WebhookEvent) == 0


def test_reserialised_body_fails_verification(client, shopify_store):
    """A signature over compact JSON does not match the same JSON with other whitespace."""
    body = shopify_order()
    res = post_shopify(client, body, raw=b" " + compact(body), headers={
        "X-Shopify-Hmac-Sha256": SHOPIFY_SAMPLES["shopify_orders_create"]["headers"]["X-Shopify-Hmac-Sha256"]})
    assert res.status_code == 401


def test_unknown_shop_is_answered_as_a_bad_signature_is(client, shopify_store, session_factory, caplog):
    """Issue 22 (8): different error codes told an outsider which shops are registered; the log still says."""
    import logging
    caplog.set_level(logging.WARNING)
    unknown = post_shopify(client, shopify_order(), headers={"X-Shopify-Shop-Domain": "other.myshopify.com"})
    forged = post_shopify(client, shopify_order(), secret="some-other-secret")
    assert unknown.status_code == forged.status_code == 401
    assert unknown.get_json() == forged.get_json()
    assert _count(session_factory, WebhookEvent) == 0
    reasons = [(r.fields["reason"], r.fields["shop_domain"]) for r in caplog.records
               if r.getMessage() == "webhook_rejected"]
    assert reasons == [("unknown_store", "other.myshopify.com"), ("invalid_signature", SHOP_DOMAIN)]


def test_a_source_that_keeps_failing_verification_is_refused_for_a_while(client, shopify_store, session_factory):
    from service.intake.source_limiter import LIMIT
    for _ in range(LIMIT):
        assert post_shopify(client, shopify_order(), secret="some-other-secret").status_code == 401
    res = post_shopify(client, shopify_order())  # even a good one, from that source, until the window passes
    assert res.status_code == 429 and res.get_json()["error"]["code"] == "too_many_unverified_requests"
    other = client.post("/webhooks/shopify", data=b"{}", environ_overrides={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 401  # another source is not affected


def test_missing_shop_header_is_401(client, shopify_store):
    res = post_shopify(client, shopify_order(), headers={"X-Shopify-Shop-Domain": None})
    assert res.status_code == 401


def test_malformed_json_with_valid_signature_is_400(client, shopify_store, session_factory):
    res = post_shopify(client, None, raw=b'{"id": 1, "name": ')
    assert res.status_code == 400
    assert res.get_json() == {"success": False, "error": {"code": "malformed_json",
                                                          "message": "the body is not valid JSON"}}
    assert _count(session_factory, WebhookEvent) == 0


@pytest.mark.parametrize("topic", ["", " "])
def test_a_blank_topic_with_a_valid_signature_is_400(client, shopify_store, session_factory, topic):
    res = post_shopify(client, shopify_order(), topic=topic)
    assert res.status_code == 400
    assert res.get_json()["error"]["code"] == "missing_topic"
    assert _count(session_factory, WebhookEvent) == 0


def test_oversize_body_is_413(make_app, shopify_store, session_factory):
    small = make_app(MAX_WEBHOOK_BYTES="1000").test_client()
    res = post_shopify(small, shopify_order())
    assert res.status_code == 413
    assert res.get_json()["error"]["code"] == "payload_too_large"
    assert _count(session_factory, WebhookEvent) == 0


def test_a_body_cut_short_of_its_content_length_is_400(client, shopify_store, session_factory):
    raw = compact(shopify_order())
    res = post_shopify(client, None, raw=raw, environ={"CONTENT_LENGTH": str(len(raw) + 100)})  # sender hung up
    assert res.status_code == 400
    assert res.get_json()["error"] == {"code": "incomplete_body",
                                       "message": f"the body ended after {len(raw)} of its {len(raw) + 100} bytes"}
    assert _count(session_factory, WebhookEvent) == 0


def test_a_chunked_body_is_read_to_its_end(client, shopify_store, session_factory):
    raw = compact(shopify_order())
    res = post_shopify(client, None, raw=raw, headers={"Transfer-Encoding": "chunked"},
                       environ={"wsgi.input_terminated": True})  # as gunicorn marks a chunked body
    assert res.status_code == 200 and res.get_json()["data"]["status"] == "accepted"
    with session_factory() as s:
        assert s.scalars(select(WebhookEvent.raw_body)).one() == raw


def test_duplicate_webhook_id_is_200_and_stores_nothing_new(client, shopify_store, session_factory):
    body = shopify_order()
    assert post_shopify(client, body, webhook_id="same-id").get_json()["data"]["status"] == "accepted"
    res = post_shopify(client, body, webhook_id="same-id")
    assert res.status_code == 200 and res.get_json()["data"]["status"] == "duplicate"
    assert _count(session_factory, WebhookEvent) == 1 and _count(session_factory, Job) == 1


def test_duplicate_event_id_for_same_topic_is_a_duplicate(client, shopify_store, session_factory):
    body = shopify_order()
    post_shopify(client, body, webhook_id="a", event_id="evt-1")
    res = post_shopify(client, body, webhook_id="b", event_id="evt-1")
    assert res.get_json()["data"]["status"] == "duplicate"
    # The same event under another topic is its own delivery.
    res = post_shopify(client, body, topic="orders/paid", webhook_id="c", event_id="evt-1")
    assert res.get_json()["data"]["status"] == "accepted"
    assert _count(session_factory, WebhookEvent) == 2


def test_unknown_topic_is_stored_as_ignored_without_a_job(client, shopify_store, session_factory):
    res = post_shopify(client, {"id": 5}, topic="products/update")
    assert res.status_code == 200 and res.get_json()["data"]["status"] == "ignored"
    with session_factory() as s:
        assert s.scalars(select(WebhookEvent)).one().status == "ignored"
    assert _count(session_factory, Job) == 0


def test_store_and_enqueue_is_atomic(client, shopify_store, session_factory):
    """If the job cannot be stored, the event is not stored either and the answer is not 2xx."""
    from tests.service.intake.test_deliveries import broken_job_insert
    # The job row violates a constraint: the event and its keys must not stay behind.
    pg_patch, sqlite_patch = broken_job_insert()
    with pg_patch, sqlite_patch:
        res = post_shopify(client, shopify_order())
    assert res.status_code == 503  # not acknowledged: Shopify delivers it again
    assert res.get_json()["error"]["code"] == "database_unavailable"
    assert _count(session_factory, WebhookEvent) == 0
    assert _count(session_factory, DeliveryKey) == 0
    # Shopify retries the delivery; this time it goes through.
    assert post_shopify(client, shopify_order()).get_json()["data"]["status"] == "accepted"


def test_previous_secret_is_accepted_during_rotation(client, shopify_store):
    res = client.patch(f"/admin/stores/{shopify_store['id']}", headers=admin_headers(),
                       json={"webhook_secret": "a-brand-new-secret-123"})
    assert res.status_code == 200 and res.get_json()["data"]["has_previous_webhook_secret"]
    assert post_shopify(client, shopify_order(), secret=SHOPIFY_SECRET, webhook_id="x").status_code == 200
    assert post_shopify(client, shopify_order(), secret="a-brand-new-secret-123", webhook_id="y").status_code == 200
    assert post_shopify(client, shopify_order(), secret="neither-secret-000", webhook_id="z").status_code == 401


def test_a_rotated_out_secret_expires(client, shopify_store, runtime, session_factory):
    """Issue 22 (8): a rotated-out webhook secret stayed valid forever."""
    from datetime import timedelta
    from service.storage.models import Store
    from service.timeutil import utcnow
    res = client.patch(f"/admin/stores/{shopify_store['id']}", headers=admin_headers(),
                       json={"webhook_secret": "a-brand-new-secret-123"})
    until = res.get_json()["data"]["previous_webhook_secret_until"]
    assert until and until.startswith((utcnow() + timedelta(days=7)).date().isoformat())
    with session_factory() as s:
        s.get(Store, shopify_store["id"]).previous_webhook_secret_until = utcnow() - timedelta(seconds=1)
        s.commit()
    runtime.stores.forget("shopify", SHOP_DOMAIN)
    assert post_shopify(client, shopify_order(), secret=SHOPIFY_SECRET, webhook_id="old").status_code == 401
    assert post_shopify(client, shopify_order(), secret="a-brand-new-secret-123", webhook_id="new").status_code == 200


@pytest.mark.parametrize("domain", [SHOP_DOMAIN.upper(), f"https://{SHOP_DOMAIN}/"])
def test_shop_domain_is_matched_case_insensitively(client, shopify_store, domain):
    assert post_shopify(client, shopify_order(), headers={"X-Shopify-Shop-Domain": domain}).status_code == 200


def test_a_blocked_database_is_answered_503_within_the_senders_budget(client, shopify_store, engine, database_url):
    """Issue 23 (9): intake waited up to 25 s (and a SQLite store lookup 30 s) where Shopify waits 5 s and CJ 3 s.

    Another connection holds the write lock for 4 s: the delivery must be refused (503, so Shopify
    retries) before that, and the write that lands once the lock goes must make the retry a duplicate.
    """
    import threading
    import time as _time
    import sqlalchemy as sa
    from service.intake.delivery_writer import WAIT_SECONDS
    assert WAIT_SECONDS <= 3.0
    locked, release = threading.Event(), threading.Event()

    def hold_the_write_lock():
        holder = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
        with holder.connect() as conn:
            if database_url.startswith("sqlite"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")
                conn.exec_driver_sql("LOCK TABLE webhook_events IN EXCLUSIVE MODE")
            locked.set()
            release.wait(4.0)
            conn.exec_driver_sql("ROLLBACK")
        holder.dispose()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    assert locked.wait(10)
    body = shopify_order()
    started = _time.monotonic()
    res = post_shopify(client, body, webhook_id="budget-1")
    still_locked = holder.is_alive()
    assert res.status_code == 503 and res.get_json()["error"]["code"] == "storage_timeout"
    assert still_locked, f"answered only after the lock went ({_time.monotonic() - started:.1f} s)"
    release.set()
    holder.join()
    deadline = _time.monotonic() + 10
    while True:  # the late write lands; Shopify's retry is then a duplicate, never a second order
        again = post_shopify(client, body, webhook_id="budget-1")
        if again.status_code == 200 or _time.monotonic() > deadline:
            break
        _time.sleep(0.2)
    assert again.get_json()["data"]["status"] == "duplicate"
