"""Shopify polling: GraphQL documents valid for 2026-10, orders shaped as their webhooks, pages and the cost bucket."""
from __future__ import annotations

import copy
import gzip
import json
import pathlib
from datetime import datetime, timezone

import pytest
from graphql import build_client_schema, parse, validate
from graphql.execution.values import get_variable_values

from adapters import shopify, shopify_polling, shopify_stock
from adapters.shopify import ADAPTER
from adapters.shopify_polling import ORDER_LINES_QUERY, ORDERS_QUERY, changed_orders, webhook_body
from service.jobs.outcomes import RetryLater
from tests.conftest import SHOPIFY_SAMPLES, load_fixture

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
PAGE = load_fixture("shopify_graphql_orders_page.json")["response"]


@pytest.fixture(scope="module")
def schema():
    schema = build_client_schema(json.load(gzip.open(FIXTURES / "shopify_admin_2026-10.json.gz"))["data"])
    schema._validation_errors = []  # Shopify's schema trips graphql-core's own deprecation checks
    return schema


def _documents():
    for module in (shopify, shopify_polling, shopify_stock):
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and value.lstrip().startswith(("query ", "mutation ")):
                yield f"{module.__name__}.{name}", value


@pytest.mark.parametrize("name,document", list(_documents()))
def test_every_graphql_document_is_valid_for_the_admin_api_version(schema, name, document):
    assert validate(schema, parse(document)) == [], name


def test_the_poll_variables_coerce(schema):
    (operation,) = parse(ORDERS_QUERY).definitions
    coerced = get_variable_values(schema, operation.variable_definitions, {
        "first": 25, "after": None, "query": "updated_at:>=2026-11-28T00:00:00Z updated_at:<=2026-11-28T01:00:00Z"})
    assert isinstance(coerced, dict), coerced
    (operation,) = parse(ORDER_LINES_QUERY).definitions
    assert isinstance(get_variable_values(schema, operation.variable_definitions,
                                          {"id": "gid://shopify/Order/1", "after": "abc"}), dict)


def test_a_polled_order_normalizes_exactly_like_its_webhook():
    node = PAGE["data"]["orders"]["nodes"][0]
    polled = ADAPTER.normalize(webhook_body(node, node["lineItems"]["nodes"]), topic="orders/updated")
    delivered = ADAPTER.normalize(SHOPIFY_SAMPLES["shopify_orders_create"]["body"], topic="orders/updated")
    for field in ("created_at", "updated_at"):  # the same instants, in UTC rather than the shop's offset
        assert datetime.fromisoformat(polled.pop(field)) == datetime.fromisoformat(delivered.pop(field))
    assert polled == delivered


def test_the_order_version_is_the_same_for_the_webhook_and_the_poll():
    """Else every order a webhook brought would look missed, and be counted against the store's webhooks."""
    node = PAGE["data"]["orders"]["nodes"][0]
    assert ADAPTER.order_version(webhook_body(node, node["lineItems"]["nodes"])) == \
        ADAPTER.order_version(SHOPIFY_SAMPLES["shopify_orders_create"]["body"]) == "7012345678901:2026-11-28T19:05:33Z"


SINCE = datetime(2026, 11, 28, 18, 0, tzinfo=timezone.utc)
UNTIL = datetime(2026, 11, 28, 19, 0, tzinfo=timezone.utc)


def _page(orders, *, next_cursor=None, available=1991.0, requested=752):
    body = copy.deepcopy(PAGE)
    body["data"]["orders"] = {"pageInfo": {"hasNextPage": next_cursor is not None, "endCursor": next_cursor},
                              "nodes": orders}
    body["extensions"]["cost"].update(requestedQueryCost=requested)
    body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] = available
    return body


def _order(legacy_id: int, lines: int = 2, more_lines: bool = False) -> dict:
    node = copy.deepcopy(PAGE["data"]["orders"]["nodes"][0])
    node["id"], node["legacyResourceId"] = f"gid://shopify/Order/{legacy_id}", str(legacy_id)
    template = node["lineItems"]["nodes"][0]
    node["lineItems"] = {"pageInfo": {"hasNextPage": more_lines, "endCursor": "lines-1" if more_lines else None},
                         "nodes": [dict(template, id=f"gid://shopify/LineItem/{legacy_id}{i:03d}")
                                   for i in range(lines)]}
    return node


def test_pages_are_followed_and_the_cost_bucket_is_waited_for():
    calls, sleeps = [], []
    pages = [_page([_order(1)], next_cursor="c1", available=152.0), _page([_order(2)], next_cursor=None)]

    def graphql(document, variables, operation):
        calls.append((operation, variables))
        return pages.pop(0)

    orders = changed_orders(graphql, since=SINCE, until=UNTIL, sleep=sleeps.append)
    assert [o["id"] for o in orders] == [1, 2]
    assert calls[0] == ("orders", {"first": 25, "after": None,
                                   "query": "updated_at:>=2026-11-28T18:00:00Z updated_at:<=2026-11-28T19:00:00Z"})
    assert calls[1][1]["after"] == "c1"
    # (752 requested − 152 available) / 100 restored per second
    assert sleeps == [pytest.approx(6.0)]


def test_a_bucket_too_empty_for_the_minute_gives_the_worker_back():
    pages = [_page([_order(1)], next_cursor="c1", available=0.0, requested=752)] * 20

    with pytest.raises(RetryLater) as later:
        changed_orders(lambda *_a: pages[0], since=SINCE, until=UNTIL, sleep=lambda _s: None)
    assert later.value.retry_after == pytest.approx(7.52)


def test_an_order_with_more_lines_than_one_page_is_read_in_full():
    seen = []

    def graphql(document, variables, operation):
        seen.append(operation)
        if operation == "orders":
            return _page([_order(5, lines=30, more_lines=True)])
        return {"data": {"order": {"lineItems": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": [
            dict(_order(5)["lineItems"]["nodes"][0], id="gid://shopify/LineItem/5999")]}}}}

    (order,) = changed_orders(graphql, since=SINCE, until=UNTIL, sleep=lambda _s: None)
    assert seen == ["orders", "orderLines"] and len(order["line_items"]) == 31
    assert order["line_items"][-1]["id"] == 5999
