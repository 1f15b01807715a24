"""CJ client: stored tokens, refresh, the 5-minute login guard, envelope errors, shared throttle."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import responses

from service.cj import account
from service.cj.errors import AUTH, EXISTS, NEEDS_HUMAN, RATE_LIMITED, RETRYABLE, CjApiError, CjTransportError, classify
from service.storage.database import transaction
from service.jobs.outcomes import RetryLater
from service.storage.models import CjAccountState
from service.timeutil import utcnow
from tests.conftest import CJ_SAMPLES
from tests.fakes import FakeCj, envelope, timeout_error


def _row(session_factory) -> CjAccountState:
    with session_factory() as s:
        return s.get(CjAccountState, 1)


@responses.activate
def test_token_is_fetched_once_stored_encrypted_and_reused(runtime, session_factory):
    cj = FakeCj(responses.mock)
    runtime.cj.get_order_detail("x")
    runtime.cj.get_order_detail("y")
    assert len(cj.ops("getAccessToken")) == 1
    assert cj.ops("getAccessToken")[0][1] == {"apiKey": "CJ1234567@api@0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
    row = _row(session_factory)
    assert runtime.box.open(row.open_id_enc) == "1048576" and "1048576" not in row.open_id_enc  # sealed
    assert "7c1e9a4b" not in (row.access_token_enc or "")  # not stored in clear
    assert runtime.box.open(row.access_token_enc) == "7c1e9a4b2d3f4e5a8b6c0d1e2f3a4b5c"
    sent = [c.request.headers.get("CJ-Access-Token") for c in responses.calls if "getOrderDetail" in c.request.url]
    assert sent == ["7c1e9a4b2d3f4e5a8b6c0d1e2f3a4b5c"] * 2


@responses.activate
def test_expired_access_token_is_refreshed_not_relogged(runtime, session_factory):
    cj = FakeCj(responses.mock)
    runtime.cj.get_order_detail("x")
    with transaction(session_factory) as s:
        s.get(CjAccountState, 1).access_expires_at = utcnow() - timedelta(minutes=1)
    runtime.cj.get_order_detail("x")  # this process still holds the token for a while (TOKEN_CACHE)
    assert len(cj.ops("refreshAccessToken")) == 0
    runtime.cj._token = None  # as in another process, or once the cached token's time is over
    runtime.cj.get_order_detail("x")
    assert len(cj.ops("getAccessToken")) == 1 and len(cj.ops("refreshAccessToken")) == 1
    assert responses.calls[-1].request.headers["CJ-Access-Token"] == "refreshed-token"


@responses.activate
def test_token_invalidated_mid_run_is_renewed_and_the_call_retried(runtime, session_factory):
    cj = FakeCj(responses.mock)
    runtime.cj.get_order_detail("x")
    cj.fail_next["getOrderDetail"] = [(200, CJ_SAMPLES["error_invalid_token"]["body"])]
    assert runtime.cj.get_order_detail("x") is None  # renewed, retried, then "not found" as usual
    assert len(cj.ops("refreshAccessToken")) == 1
    assert len(cj.ops("getOrderDetail")) == 3


@responses.activate
def test_get_access_token_at_most_once_per_five_minutes(runtime, session_factory):
    cj = FakeCj(responses.mock)
    cj.fail_next["getAccessToken"] = [(429, CJ_SAMPLES["error_getAccessToken_rate_limited"]["body"])]
    with pytest.raises(CjApiError) as err:
        runtime.cj.get_order_detail("x")
    assert err.value.category == RATE_LIMITED
    with pytest.raises(RetryLater) as soon:
        runtime.cj.get_order_detail("x")
    assert soon.value.retry_after == 2.0  # just now: maybe another worker's login is still under way
    with transaction(session_factory) as s:
        s.get(CjAccountState, 1).last_get_token_at = utcnow() - timedelta(minutes=2)
    with pytest.raises(RetryLater) as later:
        runtime.cj.get_order_detail("x")
    assert later.value.count_attempt is False and 150 < later.value.retry_after <= 181
    assert len(cj.ops("getAccessToken")) == 1
    with transaction(session_factory) as s:
        s.get(CjAccountState, 1).last_get_token_at = utcnow() - timedelta(minutes=6)
    runtime.cj.get_order_detail("x")
    assert len(cj.ops("getAccessToken")) == 2


@responses.activate
def test_refused_refresh_token_falls_back_to_login(runtime, session_factory):
    cj = FakeCj(responses.mock)
    runtime.cj.get_order_detail("x")
    with transaction(session_factory) as s:
        row = s.get(CjAccountState, 1)
        row.access_expires_at = utcnow() - timedelta(minutes=1)
        row.last_get_token_at = utcnow() - timedelta(minutes=10)
    cj.fail_next["refreshAccessToken"] = [(200, envelope(code=1600003, message="Refresh token is failure"))]
    runtime.cj._token = None  # the stored token has expired: as another process (or later) sees it
    runtime.cj.get_order_detail("x")
    assert len(cj.ops("getAccessToken")) == 2


@responses.activate
def test_transport_errors_and_5xx_are_unknown_outcomes(runtime):
    cj = FakeCj(responses.mock)
    runtime.cj.get_order_detail("warm-up")
    cj.fail_next["createOrderV2"] = [timeout_error(), (503, "not json")]
    with pytest.raises(CjTransportError):
        runtime.cj.create_order_v2({"orderNumber": "n"})
    with pytest.raises(CjTransportError):
        runtime.cj.create_order_v2({"orderNumber": "n"})


@responses.activate
def test_rate_limit_pushes_every_worker_back(runtime, session_factory):
    cj = FakeCj(responses.mock)
    runtime.cj.get_order_detail("warm-up")
    cj.fail_next["getOrderDetail"] = [(429, CJ_SAMPLES["error_rate_limited"]["body"])]
    with pytest.raises(CjApiError) as err:
        runtime.cj.get_order_detail("x")
    assert err.value.code == 1600200 and err.value.retry_after == 2.0
    import time
    assert _row(session_factory).next_request_at >= time.time() + 1.5


def test_throttle_spaces_requests_across_clients(session_factory, monkeypatch):
    """Reservations (from any worker) share one schedule at CJ_QPS, checked on a frozen clock."""
    monkeypatch.setattr(account.time, "time", lambda: 1000.0)
    waits = []
    for _ in range(5):
        account.reserve_request_slot(session_factory, 2.0, sleep=waits.append)
    # 5 requests at 2 req/s, spaced 3 % wider for network jitter.
    assert waits == pytest.approx([0.515, 1.03, 1.545, 2.06])
    assert _row(session_factory).next_request_at == pytest.approx(1000.0 + 5 * 0.515)


def test_a_caller_waking_late_for_its_slot_takes_a_new_one(session_factory, monkeypatch):
    """Sent 50 ms after its slot, a request would crowd the next second's share: the slot is given
    up and the next one taken, so what is sent keeps the schedule."""
    clock = [1000.0]
    monkeypatch.setattr(account.time, "time", lambda: clock[0])
    oversleeps = [0.050, 0.001]

    def sleep(seconds):
        clock[0] += seconds + oversleeps.pop(0)
    account.reserve_request_slot(session_factory, 2.0)  # slot 1000.0, on time
    waited = account.reserve_request_slot(session_factory, 2.0, sleep=sleep)
    # Slot 1000.515 missed (woke at 1000.565); slot 1001.03 kept (woke 1 ms after it).
    assert waited == pytest.approx(0.515 + 0.465)
    assert clock[0] == pytest.approx(1001.031) and not oversleeps
    assert _row(session_factory).next_request_at == pytest.approx(1000.0 + 3 * 0.515)


def test_a_caller_that_is_always_late_still_sends(session_factory, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(account.time, "time", lambda: clock[0])
    account.reserve_request_slot(session_factory, 2.0)

    def sleep(seconds):
        clock[0] += seconds + 0.2
    account.reserve_request_slot(session_factory, 2.0, sleep=sleep)
    # One slot on time, then the first try and every retry each used a slot, and the last one was sent.
    assert _row(session_factory).next_request_at == pytest.approx(1000.0 + 0.515 * (2 + account.LATE_SLOT_RETRIES))


@pytest.mark.parametrize("code,http,category", [
    (1600000, 200, RETRYABLE), (1600200, 200, RATE_LIMITED), (None, 429, RATE_LIMITED), (429, 429, RATE_LIMITED),
    (1600001, 200, AUTH), (1603003, 200, EXISTS), (1604000, 200, NEEDS_HUMAN), (1602003, 200, NEEDS_HUMAN),
    (None, 502, RETRYABLE), (1605001, 200, NEEDS_HUMAN)])
def test_envelope_codes_are_classified(code, http, category):
    assert classify(code, http) == category


@responses.activate
def test_used_up_points_hold_back_only_the_calls_that_cost_points(runtime, session_factory):
    """Issue 19 (13): a points error once pushed back the shared throttle an hour, blocking order and payment calls."""
    cj = FakeCj(responses.mock)
    runtime.cj.get_order_detail("warm-up")
    cj.fail_next["freightCalculate"] = [(429, CJ_SAMPLES["error_points_exhausted"]["body"])]
    with pytest.raises(CjApiError) as err:
        runtime.cj.freight_calculate(start_country="CN", end_country="US", zip_code=None, products=[])
    reset = account.next_daily_reset(utcnow())
    assert err.value.category == RATE_LIMITED
    assert err.value.retry_after == pytest.approx((reset - utcnow()).total_seconds(), abs=5)  # CJ's 00:00 UTC
    assert _row(session_factory).next_request_at < time.time() + 1  # the per-second throttle is untouched
    # 0-point calls go on at once: an order can still be created, looked up and paid.
    runtime.cj.create_order_v2({"orderNumber": "N1", "logisticName": "CJPacket Ordinary", "products": []})
    runtime.cj.get_order_detail("N1")
    # A points-costing call is not even sent until the reset.
    sent = len(cj.ops("freightCalculate"))
    with pytest.raises(CjApiError) as again:
        runtime.cj.query_variants_by_sku("CJ-ANY")
    # Held back until CJ's reset, however near midnight UTC the test runs.
    assert again.value.category == RATE_LIMITED
    assert again.value.retry_after == pytest.approx((reset - utcnow()).total_seconds(), abs=5)
    assert len(cj.ops("freightCalculate")) == sent and cj.ops("variantQuery") == []


@responses.activate
def test_a_used_up_interface_quota_holds_back_that_interface_only(runtime):
    cj = FakeCj(responses.mock)
    runtime.cj.get_order_detail("warm-up")
    cj.fail_next["variantQuery"] = [(200, {"code": 1600201, "result": False, "message": "Quota has been used up"})]
    with pytest.raises(CjApiError):
        runtime.cj.query_variants_by_sku("CJ-ANY")
    with pytest.raises(CjApiError):
        runtime.cj.query_variants_by_sku("CJ-OTHER")
    assert len(cj.ops("variantQuery")) == 1
    runtime.cj.freight_calculate(start_country="CN", end_country="US", zip_code=None, products=[])
    assert len(cj.ops("freightCalculate")) == 1


def test_missing_api_key_is_an_auth_error_not_a_call(make_app):
    app = make_app(CJ_API_KEY=None, CJ_DRY_RUN="true")
    with pytest.raises(CjApiError) as err:
        app.extensions["cj_bridge"].cj.get_order_detail("x")
    assert err.value.code == 1600002


@responses.activate
def test_http_200_without_an_envelope_is_an_unknown_outcome(runtime):
    cj = FakeCj(responses.mock)
    runtime.cj.get_order_detail("warm-up")
    cj.fail_next["createOrderV2"] = [lambda body, query: (200, {}, "<html>gateway</html>")]
    with pytest.raises(CjTransportError):
        runtime.cj.create_order_v2({"orderNumber": "n"})


@responses.activate
def test_a_second_worker_waits_briefly_for_the_first_ones_login(runtime, session_factory):
    cj = FakeCj(responses.mock)
    with transaction(session_factory) as s:
        s.get(CjAccountState, 1).last_get_token_at = utcnow()  # worker A has just started logging in
    with pytest.raises(RetryLater) as later:
        runtime.cj.get_order_detail("x")
    assert later.value.retry_after == 2.0 and cj.ops("getAccessToken") == []
    account_data = cj._getAccessToken({}, {})["data"]
    runtime.cj._save_tokens(account_data)  # A's token arrives
    runtime.cj.get_order_detail("x")
    assert cj.ops("getAccessToken") == []  # B used A's token
