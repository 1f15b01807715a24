"""POST /webhooks/cj/<path secret>: CJ's messages stored as hints, messageId dedupe, CJ's acknowledgement."""
from __future__ import annotations

import json

import responses
from sqlalchemy import func, select

from service.cj.webhook_address import path_secret
from service.storage.models import Job, WebhookEvent
from tests.conftest import CJ_SAMPLES, TEST_SECRET_KEY, admin_headers, cj_webhook_path, post_cj, run_jobs
from tests.fakes import FakeCj


def _events(session_factory):
    with session_factory() as s:
        return s.scalars(select(WebhookEvent)).all()


def test_sample_logistic_message_is_stored_as_a_hint(client, session_factory):
    sample = CJ_SAMPLES["webhook_logistic_message"]
    res = client.post(cj_webhook_path(), data=sample["raw_body"].encode(), headers=sample["headers"])
    assert res.status_code == 200
    assert res.get_json() == {"code": 200, "result": "success", "message": "ok"}
    (event,) = _events(session_factory)
    assert event.topic == "LOGISTIC/UPDATE" and event.delivery_id == "b81d7c06e2f34a59a0d4c7e9f3a21c58"
    with session_factory() as s:
        assert s.scalars(select(Job)).one().kind == "apply_cj_event"


def test_a_message_whose_signature_does_not_match_is_still_acknowledged(client, session_factory):
    """Issue 22 (1): a 401 made /webhooks/cj an oracle for the openId, and CJ closes a topic that fails 20 % of
    the time for two hours. Nothing a message says is trusted, so its signature need not be."""
    raw = CJ_SAMPLES["webhook_order_message"]["raw_body"].encode()
    assert client.post(cj_webhook_path(), data=raw, headers={"sign": "AAAA"}).status_code == 200
    assert client.post(cj_webhook_path(), data=raw).status_code == 200  # the same messageId: a duplicate
    assert len(_events(session_factory)) == 1


def test_only_the_secret_address_takes_messages(client, session_factory):
    raw = CJ_SAMPLES["webhook_order_message"]["raw_body"].encode()
    secret = path_secret(TEST_SECRET_KEY)
    for path in ("/webhooks/cj", f"/webhooks/cj/{secret[:-1]}0", f"/webhooks/cj/{secret}x", "/webhooks/cj/"):
        res = client.post(path, data=raw)
        assert res.status_code == 404 and res.get_json()["error"]["code"] == "not_found", path
    assert _events(session_factory) == []
    assert path_secret(TEST_SECRET_KEY) != path_secret(TEST_SECRET_KEY + "-another-deployment")
    assert len(secret) == 40 and secret not in json.dumps(CJ_SAMPLES)


def test_duplicate_message_id_is_acknowledged_once(client, session_factory):
    message = json.loads(CJ_SAMPLES["webhook_order_message"]["raw_body"])
    assert post_cj(client, message).status_code == 200
    res = post_cj(client, message)
    assert res.status_code == 200 and res.get_json()["message"] == "duplicate"
    assert len(_events(session_factory)) == 1


def test_message_without_id_is_400(client):
    res = post_cj(client, {"type": "ORDER", "params": {}})
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "missing_message_id"
    assert post_cj(client, raw=b"[1, 2]").status_code == 400


def test_other_message_types_are_stored_as_ignored(client, session_factory):
    assert post_cj(client, {"messageId": "m3", "type": "SOURCINGCREATE", "params": {}}).status_code == 200
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0
        assert s.scalars(select(WebhookEvent)).one().status == "ignored"


@responses.activate
def test_the_admin_api_shows_the_address_and_registers_it_with_cj(client, runtime, session_factory):
    data = client.get("/admin/cj/webhook", headers=admin_headers()).get_json()["data"]
    assert data["callback_url"] == "https://bridge.example.com" + cj_webhook_path()
    assert data["last_registration"] is None
    cj = FakeCj(responses.mock)
    assert client.post("/admin/cj/webhook", headers=admin_headers()).status_code == 202
    run_jobs(runtime)
    assert cj.webhook_settings["order"] == {"type": "ENABLE", "callbackUrls": [data["callback_url"]]}
    assert cj.webhook_settings["logistics"]["callbackUrls"] == [data["callback_url"]]
    # Stock sync is on by default: CJ's product and stock messages come to the same address.
    assert cj.webhook_settings["product"] == cj.webhook_settings["stock"] == cj.webhook_settings["order"]
    last = client.get("/admin/cj/webhook", headers=admin_headers()).get_json()["data"]["last_registration"]
    assert last["outcome"] == "registered" and cj_webhook_path() not in json.dumps(last)


def test_registering_needs_a_public_https_address(make_app):
    client = make_app(PUBLIC_BASE_URL="http://localhost:8000").test_client()
    res = client.post("/admin/cj/webhook", headers=admin_headers())
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "public_url_missing"
