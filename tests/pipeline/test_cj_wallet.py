"""The CJ wallet: read on a schedule, set against what unpaid CJ orders need, warned about when short."""
from __future__ import annotations

import pytest
import responses

from service.config import ConfigError, load_settings
from service.jobs.worker import beat
from service.pipeline.cj_wallet import read_wallet, wallet_status
from tests.conftest import admin_headers, the_order
from tests.fakes import FakeCj
from tests.pipeline.test_full_path import place_mapped_order


def _read(runtime, session_factory) -> str:
    with session_factory() as s:
        outcome = read_wallet(s, runtime=runtime)
        s.commit()
    return outcome


@responses.activate
def test_a_balance_short_of_the_unpaid_orders_is_a_readyz_warning(client, shopify_store, runtime, session_factory):
    """Issue 15 (2): nothing showed the wallet, nor what the orders waiting for payment need."""
    cj = FakeCj(responses.mock, balance=5.0)
    place_mapped_order(client, runtime, shopify_store["id"])
    assert the_order(session_factory).hold_reason == "insufficient_balance"
    assert _read(runtime, session_factory) == "balance 5.0 USD"
    beat(runtime, worker_id="w")
    wallet = client.get("/readyz", headers=admin_headers()).get_json()["data"]["checks"]["cj_wallet"]
    assert wallet["balance_usd"] == "5.0" and wallet["unpaid_cj_orders"] == 1
    assert wallet["needed_for_unpaid_usd"] == "18.31" and "top it up" in wallet["warning"]
    account = client.get("/admin/cj/account", headers=admin_headers()).get_json()["data"]
    assert account["wallet"]["needed_for_unpaid_usd"] == "18.31"
    assert cj.ops("getBalance")


@responses.activate
def test_low_balance_threshold(make_app, session_factory):
    app = make_app(LOW_BALANCE_USD="50")
    runtime = app.extensions["cj_bridge"]
    runtime.cj._sleep = lambda _s: None
    FakeCj(responses.mock, balance=42.5)
    _read(runtime, session_factory)
    with session_factory() as s:
        status = wallet_status(s, runtime=runtime)
    assert status["balance_usd"] == "42.5" and "under LOW_BALANCE_USD (50)" in status["warning"]


def test_dry_run_reads_nothing(make_app, session_factory):
    app = make_app(CJ_DRY_RUN="true")
    with session_factory() as s:
        assert read_wallet(s, runtime=app.extensions["cj_bridge"]) == "dry_run"


@pytest.mark.parametrize("value", ["fifty", "-1", "NaN"])
def test_a_bad_threshold_stops_the_start(tmp_path, value):
    with pytest.raises(ConfigError) as err:
        load_settings({"LOW_BALANCE_USD": value}, instance_path=str(tmp_path))
    assert str(err.value).startswith("LOW_BALANCE_USD must be an amount")
