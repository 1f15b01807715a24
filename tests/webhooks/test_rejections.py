"""Every webhook answered with an error leaves one structured log line: reason, platform, shop; never the body."""
from __future__ import annotations

import pytest

from tests.conftest import SHOP_DOMAIN, cj_webhook_path, compact, post_shopify, shopify_order


def _rejections(caplog):
    return [r for r in caplog.records if r.getMessage() in ("webhook_rejected", "webhook_not_stored")]


@pytest.mark.parametrize("case", ["bad_json", "too_large", "missing_topic", "unknown_platform", "bad_signature",
                                  "cj_no_message_id", "cj_wrong_secret"])
def test_each_rejection_is_one_line_without_the_body(client, shopify_store, caplog, case):
    """Issue 23 (3): only signature failures were logged; a 400 or 413 left no trace."""
    secret_words = "Customer-Street-42"
    if case == "bad_json":
        res = post_shopify(client, None, raw=b"{" + secret_words.encode())
    elif case == "too_large":
        res = post_shopify(client, shopify_order(note=secret_words + "x" * 3_000_000))
    elif case == "missing_topic":
        res = post_shopify(client, shopify_order(note=secret_words), topic="")
    elif case == "unknown_platform":
        res = client.post("/webhooks/magento", data=secret_words)
    elif case == "bad_signature":
        res = post_shopify(client, shopify_order(note=secret_words), secret="wrong-secret")
    elif case == "cj_no_message_id":
        res = client.post(cj_webhook_path(), data=compact({"type": "ORDER", "note": secret_words}),
                          content_type="application/json")
    else:
        res = client.post("/webhooks/cj/not-the-secret", data=secret_words)
    assert 400 <= res.status_code < 500
    lines = _rejections(caplog)
    assert len(lines) == 1, [r.fields for r in lines]
    fields = lines[0].fields
    assert fields["status"] == res.status_code and fields["reason"]
    assert fields["platform"] == {"unknown_platform": "magento", "cj_no_message_id": "cj",
                                  "cj_wrong_secret": "cj"}.get(case, "shopify")
    if fields["platform"] == "shopify":
        assert fields["shop_domain"] == SHOP_DOMAIN
    assert secret_words not in repr(fields)


def test_an_accepted_delivery_logs_no_rejection(client, shopify_store, caplog):
    assert post_shopify(client, shopify_order()).status_code in (200, 201)
    assert _rejections(caplog) == []
