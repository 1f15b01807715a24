"""Issue 12: one CJ call per order (create and pay at once, cached freight quotes), the daily points budget,
and shipping from a local CJ warehouse that holds the stock."""
from __future__ import annotations

import json
from datetime import timedelta

import responses
from sqlalchemy import select, update

from service.storage.models import CjAccountState, FreightQuote, Order, VariantStock
from service.timeutil import utcnow
from tests.conftest import admin_headers, post_shopify, run_jobs, shopify_order, the_order
from tests.fakes import FakeCj, envelope
from tests.pipeline.test_exactly_once import _make_due
from tests.pipeline.test_full_path import setup_catalog


def _orders(n, **changes):
    return [shopify_order(id=7012345670000 + i, admin_graphql_api_id=None, name=f"#B{i}", **changes)
            for i in range(n)]


def _non_token_calls(cj):
    return [c for c in cj.ops() if c[0] not in ("getAccessToken", "refreshAccessToken", "settingGet",
                                                  "stockQueryByVid")]


@responses.activate
def test_a_burst_for_one_product_and_country_costs_one_call_per_order(client, shopify_store, runtime,
                                                                      session_factory):
    cj = FakeCj(responses.mock, balance=1000.0)
    setup_catalog(client, shopify_store["id"])
    for body in _orders(10):
        post_shopify(client, body)
    run_jobs(runtime)
    with session_factory() as s:
        states = [o.state for o in s.scalars(select(Order))]
    assert states == ["paid"] * 10
    assert len(cj.ops("freightCalculate")) == 1  # the first order's quote served the other nine
    assert len(cj.ops("createOrderV2")) == 10 and all(c[1]["payType"] == 2 for c in cj.ops("createOrderV2"))
    assert cj.ops("confirmOrder") == [] and cj.ops("payBalance") == []
    assert len(_non_token_calls(cj)) == 11  # 1.1 CJ calls per order, stock reads aside (cached per variant)
    assert len(cj.ops("stockQueryByVid")) == 2  # one per variant, then from the database
    with session_factory() as s:
        row = s.get(CjAccountState, 1)
        assert row.points_used == 10 * 1 + 10 * 2  # one quote and two stock reads
        assert s.scalar(select(FreightQuote.start_country)) == "CN"


@responses.activate
def test_auto_pay_off_creates_only(app_with_store, session_factory):
    client, runtime, store = app_with_store(CJ_AUTO_PAY="false")
    cj = FakeCj(responses.mock)
    setup_catalog(client, store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    assert cj.ops("createOrderV2")[0][1]["payType"] == 3 and the_order(session_factory).state == "submitted"


@responses.activate
def test_balance_too_low_for_create_and_pay_binds_the_unpaid_order_and_pays_it_once_topped_up(
        client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock, balance=1.0)
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "insufficient_balance"
    assert order.cj_order_id == cj.orders[order.cj_order_number]["orderId"]  # CJ created it, unpaid: bound
    assert cj.orders[order.cj_order_number]["orderStatus"] == "UNPAID"
    cj.balance = 100.0
    client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "paid" and len(cj.ops("createOrderV2")) == 1 and len(cj.ops("payBalance")) == 1
    assert cj.balance == 100.0 - 18.31


@responses.activate
def test_balance_refused_before_cj_created_anything_creates_on_retry(client, shopify_store, runtime,
                                                                     session_factory):
    cj = FakeCj(responses.mock)
    cj.fail_next["createOrderV2"] = [(200, envelope(code=1604000, message="Balance is insufficient"))]
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.hold_reason == "insufficient_balance" and order.cj_create_state is None and cj.orders == {}
    client.post(f"/admin/orders/{order.id}/retry", headers=admin_headers())
    run_jobs(runtime)
    assert the_order(session_factory).state == "paid" and len(cj.orders) == 1


@responses.activate
def test_an_intercepted_order_is_held_with_cjs_reasons(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    original = cj.create_order

    def intercepted(body):
        answer = original(body)
        cj.orders[body["orderNumber"]]["orderStatus"] = "UNPAID"
        answer["data"].update(orderStatus="UNPAID", interceptOrderReasons=[
            {"code": "ADDRESS_RISK", "message": "address needs confirmation"}])
        return answer
    cj.create_order = intercepted
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "cj_intercepted"
    assert "ADDRESS_RISK: address needs confirmation" in order.hold_detail and cj.ops("payBalance") == []


@responses.activate
def test_a_cached_quote_whose_method_cj_refuses_is_asked_again(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    first, second = _orders(2)
    post_shopify(client, first)
    run_jobs(runtime)
    cj.fail_next["createOrderV2"] = [(200, envelope(code=1605001, message="logistic invalid"))]
    post_shopify(client, second)
    run_jobs(runtime)
    _make_due(session_factory)
    run_jobs(runtime)
    with session_factory() as s:
        assert [o.state for o in s.scalars(select(Order).order_by(Order.id))] == ["paid", "paid"]
    assert len(cj.ops("freightCalculate")) == 2  # the refused method made the cache ask CJ again


@responses.activate
def test_a_price_that_moved_makes_the_next_order_quote_again(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    original = cj.create_order

    def charging_more(body):
        answer = original(body)
        answer["data"]["postageAmount"] = 5.90
        return answer
    cj.create_order = charging_more
    setup_catalog(client, shopify_store["id"])
    for body in _orders(2):
        post_shopify(client, body)
        run_jobs(runtime)
    assert len(cj.ops("freightCalculate")) == 2


@responses.activate
def test_a_stale_quote_is_not_used(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    first, second = _orders(2)
    post_shopify(client, first)
    run_jobs(runtime)
    with session_factory() as s:
        s.execute(update(FreightQuote).values(fetched_at=utcnow() - timedelta(hours=7)))
        s.commit()
    post_shopify(client, second)
    run_jobs(runtime)
    assert len(cj.ops("freightCalculate")) == 2


@responses.activate
def test_used_up_points_hold_the_order_until_cjs_reset_then_it_goes_on(client, shopify_store, runtime,
                                                                        session_factory):
    from tests.conftest import CJ_SAMPLES
    cj = FakeCj(responses.mock)
    cj.fail_next["freightCalculate"] = [(429, CJ_SAMPLES["error_points_exhausted"]["body"])]
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "held" and order.hold_reason == "cj_budget_used_up"
    assert "00:00 UTC" in order.hold_detail and "Resolution:" in order.hold_detail
    ready = client.get("/readyz", headers=admin_headers()).get_json()["data"]
    assert ready["checks"]["cj_budget"]["points_remaining"] == 0
    assert any("points are used up" in w for w in ready["warnings"])
    from service.pipeline.cj_budget import resume_budget_holds
    with session_factory() as s:
        assert resume_budget_holds(s) == 0  # still before the reset
        s.get(CjAccountState, 1).exhausted_until = {"points": "2000-01-01T00:00:00Z"}  # the reset has passed
        assert resume_budget_holds(s) == 1
        s.commit()
    run_jobs(runtime)
    assert the_order(session_factory).state == "paid"


@responses.activate
def test_the_accounts_own_qps_limit_is_used_when_cj_qps_is_unset(make_app, session_factory):
    app = make_app(CJ_QPS=None)
    runtime = app.extensions["cj_bridge"]
    runtime.cj._sleep = lambda _s: None
    cj = FakeCj(responses.mock)
    cj.settings = {"qpsLimit": 4, "quotaLimits": [{"quotaUrl": "/product/listV2", "quotaLimit": 1000, "quotaType": 4}]}
    from service.jobs.worker import schedule_periodic
    schedule_periodic(runtime)
    run_jobs(runtime)
    with session_factory() as s:
        row = s.get(CjAccountState, 1)
        assert row.account_settings["qpsLimit"] == 4 and row.account_settings_at is not None
    status = app.test_client().get("/admin/cj/account", headers=admin_headers()).get_json()["data"]
    assert status["qps"] == 4.0 and "qpsLimit" in status["qps_source"]
    from service.cj import account
    with session_factory() as s:
        s.get(CjAccountState, 1).next_request_at = 0
        s.commit()
    account.reserve_request_slot(session_factory, None, sleep=lambda _s: None)
    with session_factory() as s:
        import time
        assert s.get(CjAccountState, 1).next_request_at - time.time() < 1.03 / 4 + 0.05


@responses.activate
def test_an_order_ships_from_the_local_warehouse_that_holds_every_line(client, shopify_store, runtime,
                                                                        session_factory):
    cj = FakeCj(responses.mock)
    cj.stock = {"2409150812345678900": {"CN": 900, "US": 40}, "2409150812345678911": {"CN": 900, "US": 3}}
    setup_catalog(client, shopify_store["id"])
    client.put("/admin/shipping-rules", headers=admin_headers(), json={
        "country_code": "US", "logistic_names": ["CJPacket Ordinary"], "max_shipping_cost": "10.00",
        "logistic_names_by_origin": {"us": ["USPS+"]}})
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    freight = cj.ops("freightCalculate")[0][1]
    create = cj.ops("createOrderV2")[0][1]
    assert freight["startCountryCode"] == "US" and create["fromCountryCode"] == "US"
    assert create["logisticName"] == "USPS+"  # the method the rule allows from the US warehouse
    order = the_order(session_factory)
    assert order.state == "paid" and order.cj_from_country == "US"
    with session_factory() as s:
        from service.storage.models import OrderTransition
        (ships_from,) = s.scalars(select(OrderTransition).where(OrderTransition.reason == "ships_from")).all()
    assert ships_from.detail.startswith("US: every line is in stock at CJ's US warehouse")


@responses.activate
def test_not_enough_local_stock_ships_from_china(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    cj.stock = {"2409150812345678900": {"CN": 900, "US": 1}}  # the order wants 2
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    assert cj.ops("createOrderV2")[0][1]["fromCountryCode"] == "CN"
    assert the_order(session_factory).cj_from_country == "CN"


@responses.activate
def test_a_failed_stock_read_ships_from_china_and_holds_nothing_up(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    cj.fail_next["stockQueryByVid"] = [(500, {"message": "error"})]
    setup_catalog(client, shopify_store["id"])
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    order = the_order(session_factory)
    assert order.state == "paid" and order.cj_from_country == "CN"
    with session_factory() as s:
        assert s.scalars(select(VariantStock)).all() == []  # nothing stored from a failed read


@responses.activate
def test_dry_run_uses_a_stored_quote_and_sends_nothing(app_with_store, session_factory):
    client, runtime, store = app_with_store(CJ_API_KEY=None, CJ_DRY_RUN=None)
    setup_catalog(client, store["id"])
    from service.pipeline import freight_quotes
    products = [{"vid": "2409150812345678900", "quantity": 2}, {"vid": "2409150812345678911", "quantity": 1}]
    with session_factory() as s:
        s.add(FreightQuote(key=freight_quotes.quote_key(start="CN", end="US", zone=None, products=products),
                           start_country="CN", end_country="US", products=products, fetched_at=utcnow(),
                           options=[{"logisticName": "USPS+", "totalPostageFee": 3.10},
                                    {"logisticName": "CJPacket Ordinary", "totalPostageFee": 4.71}]))
        s.commit()
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    assert len(responses.calls) == 0
    order = the_order(session_factory)
    assert order.hold_reason == "dry_run" and order.cj_logistic_name == "USPS+"
    assert str(order.cj_shipping_cost) == "3.10"
    detail = client.get(f"/admin/orders/{order.id}", headers=admin_headers()).get_json()["data"]
    assert [c["operation"] for c in detail["cj_calls"]] == ["createOrderV2"]  # no freight request: the cache answered
    assert json.dumps(detail["dry_run_request"]).count("USPS+") == 1


@responses.activate
def test_one_allowed_method_without_a_cap_needs_no_quote(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "US", "logistic_names": ["CJPacket Ordinary"]})
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    assert cj.ops("freightCalculate") == [] and len(cj.ops("createOrderV2")) == 1
    order = the_order(session_factory)
    assert order.state == "paid" and order.cj_logistic_name == "CJPacket Ordinary"
    assert order.cj_shipping_cost is None and str(order.cj_postage_amount) == "4.71"  # as CJ's answer states it


@responses.activate
def test_an_unquoted_method_cj_refuses_is_quoted_then(client, shopify_store, runtime, session_factory):
    cj = FakeCj(responses.mock)
    setup_catalog(client, shopify_store["id"])
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "US", "logistic_names": ["DHL Official"]})
    cj.fail_next["createOrderV2"] = [(200, envelope(code=1605000, message="logistic not found"))]
    post_shopify(client, shopify_order())
    run_jobs(runtime)
    _make_due(session_factory)
    run_jobs(runtime)
    assert len(cj.ops("freightCalculate")) == 1 and the_order(session_factory).state == "paid"
