"""eBay's Marketplace Account Deletion endpoint: the challenge, signed notices, and the buyer's data erased."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from service.storage.models import Job, Order, PlatformPublicKey, WebhookEvent
from tests.conftest import admin_headers, compact, load_fixture, run_jobs
from tests.fakes import FakeCj, FakeEbay
from tests.pipeline.test_ebay_flow import CREDENTIALS, SELLER, _order, _poll

SAMPLES = load_fixture("ebay_samples.json")
VECTORS = SAMPLES["test_vectors"]
TOKEN = "cjbridge-verification-token-0123456789_abcdef"
KID = "4b1d7e2a-93c6-4f58-a0e7-2c9d8b6f1e35"


@pytest.fixture
def ebay_store(client):
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "ebay", "shop_domain": SELLER, "webhook_secret": TOKEN, "api_credentials": CREDENTIALS})
    assert res.status_code == 201, res.get_json()
    client.put("/admin/sku-mappings", headers=admin_headers(), json=[
        {"store_id": res.get_json()["data"]["id"], "store_sku": "CJB-MUG-BLK-11OZ", "cj_vid": "vid-mug"},
        {"store_id": res.get_json()["data"]["id"], "store_sku": "CJB-COASTER-SET4", "cj_vid": "vid-coaster"}])
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "*", "logistic_names": ["CJPacket Ordinary"]})
    return res.get_json()["data"]


def test_the_challenge_answer_matches_an_independent_computation(client, ebay_store):
    """Issue 13 (3): eBay activates production keys only once this endpoint answers its check."""
    res = client.get("/webhooks/ebay?challenge_code=a8f3c2d1e0b9")
    assert res.status_code == 200 and res.mimetype == "application/json"
    endpoint = "https://bridge.example.com/webhooks/ebay"  # PUBLIC_BASE_URL + the path, as registered
    expected = hashlib.sha256(("a8f3c2d1e0b9" + TOKEN + endpoint).encode()).hexdigest()
    assert res.get_json() == {"challengeResponse": expected}
    assert not res.data.startswith(b"\xef\xbb\xbf")  # no BOM: eBay's parser fails on it


def test_the_published_challenge_vector():
    from adapters.ebay import ADAPTER
    vector = VECTORS["ebay_challenge"]
    assert ADAPTER.answer_challenge(vector["challenge_code"], verification_token=vector["verification_token"],
                                    endpoint=vector["endpoint"]) == vector["expected_response_body"]


def test_a_challenge_without_a_code_or_a_store_is_a_clear_error(client):
    assert client.get("/webhooks/ebay").status_code == 400
    res = client.get("/webhooks/ebay?challenge_code=x")
    assert res.status_code == 404 and "register the ebay store first" in res.get_json()["error"]["message"]
    assert client.get("/webhooks/shopify?challenge_code=x").status_code == 405


def _keypair():
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    one_line = "".join(pem.strip().splitlines()[1:-1])
    return private, f"-----BEGIN PUBLIC KEY-----{one_line}-----END PUBLIC KEY-----"  # as eBay sends it


def _signed(private, raw: bytes, kid=KID) -> dict:
    signature = base64.b64encode(private.sign(raw, ec.ECDSA(hashes.SHA1()))).decode()
    header = {"alg": "ecdsa", "kid": kid, "signature": signature, "digest": "SHA1"}
    return {"Content-Type": "application/json",
            "X-EBAY-SIGNATURE": base64.b64encode(json.dumps(header).encode()).decode()}


def _notice(username="sample_buyer_4821", notification_id="n-1") -> bytes:
    body = json.loads(VECTORS["ebay_notification_signature"]["raw_body"])
    body["notification"]["data"]["username"] = username
    body["notification"]["notificationId"] = notification_id
    return compact(body)


@responses.activate
def test_a_signed_deletion_is_fetched_verified_and_erases_the_buyers_orders(client, ebay_store, runtime,
                                                                            session_factory):
    FakeCj(responses.mock)
    FakeEbay(responses.mock, orders=[_order()])
    _poll(session_factory, runtime, ebay_store["id"])
    with session_factory() as s:
        assert s.scalars(select(Order)).one().canonical["customer_ref"] == "sample_buyer_4821"
    private, key = _keypair()
    responses.add(responses.POST, "https://api.ebay.com/identity/v1/oauth2/token",
                  json={"access_token": "v^1.1#i^1#FAKE_APP_TOKEN", "expires_in": 7200})
    responses.add(responses.GET, f"https://api.ebay.com/commerce/notification/v1/public_key/{KID}",
                  json={"algorithm": "ECDSA", "digest": "SHA1", "key": key})
    raw = _notice()
    # The key is not held yet: 503 (eBay sends again), and the worker fetches it, not the request.
    first = client.post("/webhooks/ebay", data=raw, headers=_signed(private, raw))
    assert first.status_code == 503 and first.get_json()["error"]["code"] == "signing_key_unknown"
    with session_factory() as s:
        assert s.scalars(select(WebhookEvent).where(WebhookEvent.topic == "erase_user")).all() == []
        assert s.scalars(select(Job).where(Job.kind == "fetch_platform_key")).one().payload["kid"] == KID
    run_jobs(runtime)
    with session_factory() as s:
        assert s.get(PlatformPublicKey, ("ebay", KID)).digest == "SHA1"
    again = client.post("/webhooks/ebay", data=raw, headers=_signed(private, raw))
    assert again.status_code == 204 and again.data == b""
    run_jobs(runtime)
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
        assert order.canonical["shipping_address"] is None and order.canonical["customer_ref"] is None
        (event,) = s.scalars(select(WebhookEvent).where(WebhookEvent.topic == "erase_user")).all()
        assert event.raw_body == b"{}" and "1 order(s) redacted" in event.note
    # The same notice delivered again: acknowledged, nothing more to do.
    assert client.post("/webhooks/ebay", data=raw, headers=_signed(private, raw)).status_code == 204


def test_a_tampered_or_foreign_notice_is_412_and_never_stored(client, ebay_store, session_factory):
    private, key = _keypair()
    with session_factory() as s:
        s.add(PlatformPublicKey(platform="ebay", kid=KID, key_pem=key, digest="SHA1"))
        s.commit()
    raw = _notice()
    headers = _signed(private, raw)
    tampered = raw.replace(b"sample_buyer_4821", b"another_buyer_99")
    assert client.post("/webhooks/ebay", data=tampered, headers=headers).status_code == 412
    stranger, _ = _keypair()
    assert client.post("/webhooks/ebay", data=raw, headers=_signed(stranger, raw)).status_code == 412
    assert client.post("/webhooks/ebay", data=raw, headers={"X-EBAY-SIGNATURE": "not-base64!"}).status_code == 412
    with session_factory() as s:
        assert s.scalars(select(WebhookEvent)).all() == []


def test_the_published_signature_vector_verifies():
    from adapters.ebay import ADAPTER
    vector = VECTORS["ebay_notification_signature"]
    headers = {"X-EBAY-SIGNATURE": vector["x_ebay_signature_header"]}
    key = vector["getPublicKey_response"]["key"]
    assert ADAPTER.verify_notice(vector["raw_body"].encode(), headers, key_pem=key, digest="SHA1")
    spaced = json.dumps(json.loads(vector["raw_body"])).encode()  # default separators: a different body
    assert ADAPTER.verify_notice(spaced, headers, key_pem=key, digest="SHA1")  # re-serialised compact matches
    assert not ADAPTER.verify_notice(vector["raw_body"].replace("4821", "4822").encode(), headers, key_pem=key,
                                     digest="SHA1")


def test_an_ebay_verification_token_follows_ebays_rules(client):
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "ebay", "shop_domain": SELLER, "webhook_secret": "too short!", "api_credentials": CREDENTIALS})
    assert res.status_code == 400 and "verification token" in json.dumps(res.get_json())


@responses.activate
def test_an_order_confirmation_reads_the_order_at_once(client, ebay_store, runtime, session_factory):
    """Issue 13 (2): ORDER_CONFIRMATION is a hint: the order is read from the Fulfillment API, not the poll's turn."""
    cj = FakeCj(responses.mock)
    ebay = FakeEbay(responses.mock, orders=[_order()])
    private, key = _keypair()
    with session_factory() as s:
        s.add(PlatformPublicKey(platform="ebay", kid=KID, key_pem=key, digest="SHA1"))
        s.commit()
    raw = compact(SAMPLES["ebay_order_confirmation_notification"]["body"])
    assert client.post("/webhooks/ebay", data=raw, headers=_signed(private, raw)).status_code == 204
    run_jobs(runtime)
    assert [c[1] for c in ebay.calls("GET") if c[1] != "/order"] == ["/order/24-13579-86420"]
    assert len(cj.ops("createOrderV2")) == 1
    # The poll that follows finds the same state: nothing new, nothing counted as missed.
    _poll(session_factory, runtime, ebay_store["id"])
    assert len(cj.ops("createOrderV2")) == 1
