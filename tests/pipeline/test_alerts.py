"""Alerts: computed from what the database knows, shown in the admin API and /readyz, sent once until they clear."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from sqlalchemy import update

from service.config import ConfigError, load_settings
from service.jobs.outcomes import RetryLater
from service.jobs.worker import beat
from service.pipeline.alerts import send_alerts
from service.storage.models import AlertState, Job, Order
from service.timeutil import utcnow
from tests.conftest import SHOP_DOMAIN, SHOPIFY_SECRET, admin_headers
from tests.fakes import FakeCj
from tests.pipeline.test_full_path import place_mapped_order

SLACK = "https://hooks.slack.example/services/T000/B000/secret-part"


@pytest.fixture
def alerting(make_app):
    app = make_app(ALERT_WEBHOOK_URL=SLACK)
    runtime = app.extensions["cj_bridge"]
    runtime.cj._sleep = lambda _s: None
    return app.test_client(), runtime


def _send(runtime, session_factory) -> str:
    with session_factory() as s:
        outcome = send_alerts(s, runtime=runtime)
        s.commit()
    return outcome


@responses.activate
def test_an_order_without_tracking_alerts_once_and_clears(alerting, session_factory, caplog):
    """Issue 15 (3): a paid order with no tracking after days was seen only by someone looking."""
    client, runtime = alerting
    FakeCj(responses.mock)
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "shopify", "shop_domain": SHOP_DOMAIN, "webhook_secret": SHOPIFY_SECRET,
        "api_credentials": {"access_token": "shpat_EXAMPLE_NOT_REAL"}})
    place_mapped_order(client, runtime, res.get_json()["data"]["id"])
    slack = responses.add(responses.POST, SLACK, body="ok")
    assert _send(runtime, session_factory) == "0 alert(s), 0 new"
    with session_factory() as s:  # paid at CJ eleven days ago, still no tracking
        s.execute(update(Order).values(cj_paid_at=utcnow() - timedelta(days=11), last_cj_update_at=utcnow()))
        s.commit()
    assert _send(runtime, session_factory) == "1 alert(s), 1 sent"
    text = json.loads(slack.calls[0].request.body)["text"]
    assert "without tracking" in text and "#1057" in text
    assert _send(runtime, session_factory) == "1 alert(s), 0 new" and len(slack.calls) == 1  # once
    listed = client.get("/admin/alerts", headers=admin_headers()).get_json()["data"]
    assert [a["kind"] for a in listed] == ["no_tracking"] and listed[0]["sent_at"]
    beat(runtime, worker_id="w")
    assert any("without tracking" in m for m in
               client.get("/readyz", headers=admin_headers()).get_json()["data"]["checks"]["alerts"])
    assert not any("secret-part" in r.getMessage() + json.dumps(getattr(r, "fields", {})) for r in caplog.records)
    # Tracking arrives: the alert clears, and if it comes back it is sent again.
    with session_factory() as s:
        s.execute(update(Order).values(cj_paid_at=utcnow()))
        s.commit()
    assert _send(runtime, session_factory) == "0 alert(s), 0 new"
    with session_factory() as s:
        assert s.get(AlertState, s.query(AlertState).one().key).cleared_at is not None


@responses.activate
def test_dead_jobs_and_a_webhook_failure_retry_the_send(alerting, session_factory):
    client, runtime = alerting
    with session_factory() as s:
        s.add(Job(kind="forward_order", payload={"order_id": 1}, status="dead", run_at=utcnow(), attempts=8,
                  max_attempts=8, created_at=utcnow(), updated_at=utcnow()))
        s.commit()
    responses.add(responses.POST, SLACK, status=500)
    with pytest.raises(RetryLater):
        _send(runtime, session_factory)
    responses.replace(responses.POST, SLACK, body="ok")
    assert _send(runtime, session_factory) == "1 alert(s), 1 sent"


def test_an_alert_webhook_must_be_https_in_production(tmp_path):
    strong = "Zx8-q2LmN4vR7tYp0wK3sJ6hG9fD1cB5aE"
    with pytest.raises(ConfigError) as err:
        load_settings({"CJ_BRIDGE_ENV": "production", "DATABASE_URL": "postgres://x/y", "SECRET_KEY": strong,
                       "ADMIN_TOKEN": strong[::-1], "ALERT_WEBHOOK_URL": "http://hooks.example/x"},
                      instance_path=str(tmp_path))
    assert str(err.value).startswith("ALERT_WEBHOOK_URL")
