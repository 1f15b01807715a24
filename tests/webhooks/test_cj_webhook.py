"""POST /webhooks/cj: sign header, messageId dedupe, CJ's acknowledgement."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from service.storage.models import Job, WebhookEvent
from tests.conftest import CJ_SAMPLES, post_cj


def _events(session_factory):
    with session_factory() as s:
        return s.scalars(select(WebhookEvent)).all()


def test_sample_logistic_message_with_recorded_sign_is_accepted(client, session_factory):
    sample = CJ_SAMPLES["webhook_logistic_message"]
    res = client.post("/webhooks/cj", data=sample["raw_body"].encode(), headers=sample["headers"])
    assert res.status_code == 200
    assert res.get_json() == {"code": 200, "result": "success", "message": "ok"}
    (event,) = _events(session_factory)
    assert event.topic == "LOGISTIC/UPDATE" and event.delivery_id == "b81d7c06e2f34a59a0d4c7e9f3a21c58"
    with session_factory() as s:
        assert s.scalars(select(Job)).one().kind == "apply_cj_event"


def test_bad_or_missing_sign_is_401(client, session_factory):
    raw = CJ_SAMPLES["webhook_order_message"]["raw_body"].encode()
    assert client.post("/webhooks/cj", data=raw, headers={"sign": "AAAA"}).status_code == 401
    assert client.post("/webhooks/cj", data=raw).status_code == 401
    assert _events(session_factory) == []


def test_duplicate_message_id_is_acknowledged_once(client, session_factory):
    message = json.loads(CJ_SAMPLES["webhook_order_message"]["raw_body"])
    assert post_cj(client, message).status_code == 200
    res = post_cj(client, message)
    assert res.status_code == 200 and res.get_json()["message"] == "duplicate"
    assert len(_events(session_factory)) == 1


def test_message_without_id_is_400(client):
    res = post_cj(client, {"type": "ORDER", "params": {}})
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "missing_message_id"


def test_unverifiable_without_open_id(make_app, session_factory):
    client = make_app(CJ_OPEN_ID=None).test_client()
    res = post_cj(client, {"messageId": "m1", "type": "ORDER", "params": {}})
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "signature_unverifiable"


def test_open_id_from_stored_token_is_used(make_app, session_factory):
    from service.storage.models import CjAccountState
    with session_factory() as s:
        s.get(CjAccountState, 1).open_id = "777"
        s.commit()
    client = make_app(CJ_OPEN_ID=None).test_client()
    assert post_cj(client, {"messageId": "m2", "type": "ORDER", "params": {}}, open_id="777").status_code == 200


def test_other_message_types_are_stored_as_ignored(client, session_factory):
    assert post_cj(client, {"messageId": "m3", "type": "PRODUCT", "params": {}}).status_code == 200
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0
        assert s.scalars(select(WebhookEvent)).one().status == "ignored"
