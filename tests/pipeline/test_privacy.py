"""Invariant 6: privacy webhooks erase what they name; logs carry no secrets or personal data."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import responses
from sqlalchemy import func, select, update

from service.storage.models import ExternalCall, Order, SkuMapping, Store, WebhookEvent
from service.pipeline.privacy import purge_old_events
from service.timeutil import utcnow
from tests.conftest import SHOPIFY_SAMPLES, post_shopify, run_jobs, shopify_order
from tests.fakes import FakeCj, FakeShopify
from tests.pipeline.test_full_path import cj_ships, setup_catalog

PII = ["maria.lopez@example.org", "742 Evergreen", "+15415550142", "Maria Lopez", "Lopez"]
SECRETS = ["7c1e9a4b2d3f4e5a8b6c0d1e2f3a4b5c", "shpat_EXAMPLE_NOT_REAL", "test-client-secret-NOT-REAL",
           "CJ1234567@api@0f1e2d3c4b5a69788796a5b4c3d2e1f0", "a4f0b3c2d1e04f6a9b8c7d6e5f4a3b2c"]


@responses.activate
def test_logs_of_a_full_order_carry_no_pii_or_secrets(client, shopify_store, runtime, session_factory, caplog):
    caplog.set_level(logging.DEBUG)
    cj = FakeCj(responses.mock)
    FakeShopify(responses.mock)
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
    cj_ships(client, cj, order)
    run_jobs(runtime)
    text = caplog.text
    assert "outbound_call" in {r.getMessage() for r in caplog.records}  # the calls were logged
    for needle in PII + SECRETS:
        assert needle not in text, needle
    from service.observability.structured_logging import JsonFormatter
    rendered = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for needle in PII + SECRETS:
        assert needle not in rendered, needle


def _redact_body(order_ids):
    body = dict(SHOPIFY_SAMPLES["shopify_customers_redact"]["body"])
    body["orders_to_redact"] = order_ids
    return body


@responses.activate
def test_customer_redaction_erases_personal_data(client, shopify_store, runtime, session_factory):
    FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    post_shopify(client, shopify_order(id=7012345678902, admin_graphql_api_id=None, email="other@example.org"))
    run_jobs(runtime)
    assert post_shopify(client, _redact_body([7012345678901]), topic="customers/redact").status_code == 200
    run_jobs(runtime)
    with session_factory() as s:
        redacted = s.scalars(select(Order).where(Order.platform_order_id == "7012345678901")).one()
        kept = s.scalars(select(Order).where(Order.platform_order_id == "7012345678902")).one()
        assert redacted.canonical["shipping_address"] is None and redacted.canonical["email"] is None
        assert kept.canonical["email"] == "other@example.org"  # only what was named
        dumped = json.dumps([c.request for c in s.scalars(select(ExternalCall).where(
            ExternalCall.order_id == redacted.id))]) + json.dumps(redacted.canonical)
        for needle in PII:
            assert needle not in dumped, needle
        events = s.scalars(select(WebhookEvent).where(WebhookEvent.subject_id == "7012345678901")).all()
        assert events and all(e.raw_body == b"{}" for e in events)
        assert redacted.state == "paid"  # the business record stays


def test_shop_redaction_erases_the_store(client, shopify_store, runtime, session_factory):
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order(financial_status="pending"))
    run_jobs(runtime)
    body = SHOPIFY_SAMPLES["shopify_shop_redact"]["body"]
    assert post_shopify(client, body, topic="shop/redact").status_code == 200
    run_jobs(runtime)
    with session_factory() as s:
        for model in (Store, Order, WebhookEvent, SkuMapping):
            assert s.scalar(select(func.count()).select_from(model)) == 0, model


def test_data_request_is_recorded_with_what_we_hold(client, shopify_store, runtime, session_factory):
    post_shopify(client, shopify_order(financial_status="pending"))
    run_jobs(runtime)
    body = dict(SHOPIFY_SAMPLES["shopify_customers_data_request"]["body"], orders_requested=[7012345678901, 5])
    post_shopify(client, body, topic="customers/data_request")
    run_jobs(runtime)
    with session_factory() as s:
        event = s.scalars(select(WebhookEvent).where(WebhookEvent.topic == "customers/data_request")).one()
        assert event.note.startswith("data request: we hold orders 7012345678901;")


def test_old_handled_events_are_purged(client, shopify_store, runtime, session_factory):
    post_shopify(client, shopify_order(financial_status="pending"))
    run_jobs(runtime)
    post_shopify(client, shopify_order(financial_status="pending", updated_at="2026-11-28T15:00:00-05:00"))
    with session_factory() as s:
        s.execute(update(WebhookEvent).values(received_at=utcnow() - timedelta(days=31)))
        assert purge_old_events(s, retention_days=30) == 1  # the queued one is kept until processed
        s.commit()


def test_the_redaction_request_itself_is_not_kept(client, shopify_store, runtime, session_factory):
    post_shopify(client, _redact_body([1]), topic="customers/redact")
    run_jobs(runtime)
    with session_factory() as s:
        event = s.scalars(select(WebhookEvent)).one()
        assert event.raw_body == b"{}" and event.note == "redacted 0 order(s)"


def test_deliveries_whose_job_died_are_erased_and_purged_too(client, shopify_store, runtime, session_factory):
    """Issue 22 (7): an event whose job crashed stayed `queued` with its payload, beyond retention and erasure."""
    from service.storage.models import Job
    post_shopify(client, shopify_order(financial_status="pending"))
    with session_factory() as s:  # its job crashed for good
        s.execute(update(Job).values(status="dead"))
        s.commit()
    post_shopify(client, _redact_body([7012345678901]), topic="customers/redact")
    run_jobs(runtime)
    with session_factory() as s:
        bodies = [e.raw_body for e in s.scalars(select(WebhookEvent).order_by(WebhookEvent.id))]
        assert bodies == [b"{}", b"{}"]  # the unprocessed order delivery and the request itself
        s.execute(update(WebhookEvent).values(received_at=utcnow() - timedelta(days=31)))
        assert purge_old_events(s, retention_days=30) == 2
        s.commit()


@responses.activate
def test_erasure_reaches_the_dry_run_call_log(app_with_store, session_factory):
    from service.storage.models import ExternalCall
    client, runtime, store = app_with_store(CJ_API_KEY=None, CJ_DRY_RUN=None)
    setup_catalog(client, store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    post_shopify(client, _redact_body([7012345678901]), topic="customers/redact")
    run_jobs(runtime)
    with session_factory() as s:
        text = " ".join(str(c.request) for c in s.scalars(select(ExternalCall)))
    assert "97477" not in text and "Evergreen" not in text and "Maria" not in text
