"""Shopify client-credentials tokens: obtained, reused, renewed on expiry and on a 401, one grant for all workers."""
from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qs

import pytest
import responses
from sqlalchemy import select

from service.jobs.outcomes import RetryLater
from service.pipeline import store_tokens
from service.storage.models import Store
from service.timeutil import iso, utcnow
from tests.conftest import SHOP_DOMAIN, SHOPIFY_SECRET, admin_headers, run_jobs, the_order
from tests.fakes import FakeCj, FakeShopify
from tests.pipeline.test_full_path import cj_ships, place_mapped_order

GRANT_URL = f"https://{SHOP_DOMAIN}/admin/oauth/access_token"
CLIENT = {"client_id": "3f9a1c2b7d8e4f5a6b7c8d9e0f1a2b3c", "client_secret": "shpss_EXAMPLE_NOT_REAL_0123456789"}


class Grants:
    """Shopify's token endpoint: each grant hands out a new token, valid expires_in seconds."""

    def __init__(self, rsps, *, expires_in=86399, status=200, delay=0.0):
        self.bodies: list[dict] = []
        self.expires_in, self.status, self.delay = expires_in, status, delay
        rsps.add_callback("POST", GRANT_URL, callback=self._grant)

    def _grant(self, request):
        self.bodies.append({k: v[0] for k, v in parse_qs(request.body).items()})
        time.sleep(self.delay)
        if self.status != 200:
            return self.status, {}, json.dumps({"error": "invalid_client"})
        return 200, {}, json.dumps({"access_token": f"shpat_granted_{len(self.bodies)}", "scope": "read_orders",
                                    "expires_in": self.expires_in})

    @property
    def tokens(self):
        return [f"shpat_granted_{i + 1}" for i in range(len(self.bodies))]


@pytest.fixture
def client_credentials_store(client):
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "shopify", "shop_domain": SHOP_DOMAIN, "webhook_secret": SHOPIFY_SECRET,
        "api_credentials": CLIENT})
    assert res.status_code == 201, res.get_json()
    return res.get_json()["data"]


def _shop_with_tokens(rsps, accepted: set[str]):
    """FakeShopify that accepts the granted tokens listed in `accepted` (a 401 for any other)."""
    shop = FakeShopify(rsps)
    handle = shop._handle

    def checked(request):
        token = request.headers["X-Shopify-Access-Token"]
        shop.tokens_seen.append(token)
        if token not in accepted:
            return 401, {}, json.dumps({"errors": "[API] Invalid API key or access token"})
        request.headers["X-Shopify-Access-Token"] = "shpat_EXAMPLE_NOT_REAL"  # what FakeShopify checks
        return handle(request)
    shop.tokens_seen = []
    rsps.remove("POST", f"https://{SHOP_DOMAIN}/admin/api/2026-10/graphql.json")
    rsps.add_callback("POST", f"https://{SHOP_DOMAIN}/admin/api/2026-10/graphql.json", callback=checked)
    return shop


def _credentials(runtime, session_factory, store_id):
    with session_factory() as s:
        return runtime.box.open_json(s.get(Store, store_id).credentials_enc)


@responses.activate
def test_a_token_is_obtained_on_first_use_kept_encrypted_and_reused(client, client_credentials_store, runtime,
                                                                    session_factory):
    """Issue 11 (1): Dev Dashboard apps get tokens through the client-credentials grant; none was asked for."""
    grants = Grants(responses.mock)
    cj = FakeCj(responses.mock)
    shop = _shop_with_tokens(responses.mock, {"shpat_granted_1"})
    place_mapped_order(client, runtime, client_credentials_store["id"])
    cj_ships(client, cj, the_order(session_factory))
    run_jobs(runtime)
    assert the_order(session_factory).state == "fulfilled"
    assert grants.bodies == [{"grant_type": "client_credentials", **CLIENT}]
    assert set(shop.tokens_seen) == {"shpat_granted_1"}
    with session_factory() as s:
        assert "shpat_granted_1" not in s.get(Store, client_credentials_store["id"]).credentials_enc
    stored = _credentials(runtime, session_factory, client_credentials_store["id"])
    assert stored["granted_access_token"] == "shpat_granted_1"
    # A second write-back (another number) reuses it: still one grant.
    cj_ships(client, cj, the_order(session_factory), tracking="9400111899562345678901", message_id="m2")
    run_jobs(runtime)
    assert len(grants.bodies) == 1 and len(shop.operations("UpdateTracking")) == 1
    listed = client.get(f"/admin/stores/{client_credentials_store['id']}", headers=admin_headers()).get_json()
    assert listed["data"]["api_credentials_set"] == ["client_id", "client_secret"]


@responses.activate
def test_a_token_near_its_expiry_is_renewed_before_use(client, client_credentials_store, runtime,
                                                       session_factory):
    grants = Grants(responses.mock)
    store_id = client_credentials_store["id"]
    assert store_tokens.granted_token(runtime, store_id=store_id) == "shpat_granted_1"
    store_tokens._save(runtime, store_id, {"granted_expires_at": iso(utcnow() + store_tokens.RENEW_BEFORE / 2)})
    assert store_tokens.granted_token(runtime, store_id=store_id) == "shpat_granted_2"
    assert store_tokens.granted_token(runtime, store_id=store_id) == "shpat_granted_2"
    assert len(grants.bodies) == 2


@responses.activate
def test_a_token_shopify_rejects_is_renewed_once_and_the_call_made_again(client, client_credentials_store,
                                                                          runtime, session_factory):
    grants = Grants(responses.mock)
    cj = FakeCj(responses.mock)
    store_id = client_credentials_store["id"]
    store_tokens.granted_token(runtime, store_id=store_id)  # shpat_granted_1, revoked in Shopify meanwhile
    shop = _shop_with_tokens(responses.mock, {"shpat_granted_2"})
    place_mapped_order(client, runtime, store_id)
    cj_ships(client, cj, the_order(session_factory))
    run_jobs(runtime)
    assert the_order(session_factory).state == "fulfilled" and len(grants.bodies) == 2
    assert shop.tokens_seen[0] == "shpat_granted_1" and set(shop.tokens_seen[1:]) == {"shpat_granted_2"}


@responses.activate
def test_a_refused_grant_holds_the_order_with_a_resolution(client, client_credentials_store, runtime,
                                                           session_factory):
    Grants(responses.mock, status=400)
    cj = FakeCj(responses.mock)
    _shop_with_tokens(responses.mock, set())
    place_mapped_order(client, runtime, client_credentials_store["id"])
    cj_ships(client, cj, the_order(session_factory))
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "store_auth_failed"
    assert "client id and client secret" in order.hold_detail and "Resolution:" in order.hold_detail
    assert "grant_started_at" not in _credentials(runtime, session_factory, client_credentials_store["id"])


@responses.activate
def test_two_workers_needing_a_token_at_once_make_one_grant(client, client_credentials_store, runtime,
                                                            session_factory):
    grants = Grants(responses.mock, delay=0.5)
    store_id = client_credentials_store["id"]
    results: list = []

    def worker():
        try:
            results.append(store_tokens.granted_token(runtime, store_id=store_id))
        except RetryLater as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join()
    assert len(grants.bodies) == 1
    assert "shpat_granted_1" in results
    waited = [r for r in results if isinstance(r, RetryLater)]
    assert len(waited) == 1 and waited[0].count_attempt is False  # the other waits for the first one's token
    assert store_tokens.granted_token(runtime, store_id=store_id) == "shpat_granted_1"


@pytest.mark.parametrize("credentials", [{"client_id": "abc"}, {"client_secret": "shpss_x"},
                                         {"access_token": "t", "granted_access_token": "x"}])
def test_half_a_client_pair_or_internal_keys_are_refused(client, credentials):
    res = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "shopify", "shop_domain": SHOP_DOMAIN, "webhook_secret": SHOPIFY_SECRET,
        "api_credentials": credentials})
    assert res.status_code == 400 and "api_credentials" in json.dumps(res.get_json()["error"])


def test_a_stored_access_token_needs_no_grant(client, shopify_store, runtime, session_factory):
    with session_factory() as s:
        store = s.scalars(select(Store)).one()
        from service.pipeline.store_context import store_context
        context = store_context(store, runtime)
    assert context.token_source is None and context.credentials["access_token"] == "shpat_EXAMPLE_NOT_REAL"
