"""X-Request-Id on every answer, on the app's log lines, and in gunicorn's JSON access log."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

from tests.conftest import post_shopify, shopify_order


def test_every_answer_has_an_id_and_the_logs_written_for_it_carry_it(client, shopify_store):
    """Issue 15 (7): app log lines could not be joined to the request that caused them."""
    import io
    from service.observability.structured_logging import JsonFormatter
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())  # formats as the line is written, inside the request
    logger = logging.getLogger("cj_bridge.webhooks")
    logger.addHandler(handler)
    try:
        res = post_shopify(client, shopify_order(), secret="wrong-secret")
    finally:
        logger.removeHandler(handler)
    request_id = res.headers["X-Request-Id"]
    assert len(request_id) == 32
    lines = [json.loads(l) for l in stream.getvalue().splitlines()]
    rejected = [l for l in lines if l.get("event") == "webhook_rejected"]
    assert rejected and rejected[-1]["request_id"] == request_id


def test_a_routers_id_is_kept_and_nonsense_is_replaced(client):
    assert client.get("/healthz", headers={"X-Request-Id": "router-1234abcd"}).headers["X-Request-Id"] == \
        "router-1234abcd"
    assert client.get("/healthz", headers={"X-Request-Id": "<script>"}).headers["X-Request-Id"] != "<script>"


class _Resp:
    status = "201 CREATED"
    headers = [("Content-Type", "application/json"), ("X-Request-Id", "abc123def456")]


def test_the_access_log_is_one_json_line_without_query_or_client(capsys):
    from gunicorn.config import Config
    from service.observability.access_log import JsonAccessLogger
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = JsonAccessLogger(cfg)
    logger.access(_Resp(), None, {"REQUEST_METHOD": "GET", "PATH_INFO": "/webhooks/ebay",
                                   "QUERY_STRING": "challenge_code=secret", "REMOTE_ADDR": "203.0.113.9"},
                  timedelta(milliseconds=12.5))
    out = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    entry = json.loads(out[-1])
    assert entry["event"] == "http_request" and entry["status"] == 201 and entry["request_id"] == "abc123def456"
    assert entry["path"] == "/webhooks/ebay" and entry["ms"] == 12.5
    assert "secret" not in out[-1] and "203.0.113.9" not in out[-1]
    logging.getLogger("gunicorn.access").handlers.clear()
