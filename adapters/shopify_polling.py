"""Shopify orders read through GraphQL (polling a window, or one order), shaped like the order webhooks' bodies.

The polled state goes down the same path as a webhook's (ShopifyAdapter.normalize), so this module turns
GraphQL's Order into the REST shape of an `orders/updated` body, field for field what normalize reads.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Callable

from service.jobs.outcomes import RetryLater

log = logging.getLogger("cj_bridge.adapters")

ORDERS_PER_PAGE = 25
LINES_PER_ORDER = 30  # more are read order by order (ORDER_LINES_QUERY); dropshipping orders rarely have them
# A poll that would wait longer than this for Shopify's cost bucket gives the worker back and runs again
# later (from the same cursor; what it already stored is deduplicated).
MAX_POLL_WAIT_SECONDS = 60.0

_LINE_FIELDS = """
      id sku name title quantity currentQuantity requiresShipping
      originalUnitPriceSet { shopMoney { amount currencyCode } }
      variant { legacyResourceId }
      product { legacyResourceId }"""

_ORDER_FIELDS = """
      id legacyResourceId name email currencyCode displayFinancialStatus cancelledAt test note
      createdAt updatedAt
      currentTotalPriceSet { shopMoney { amount } }
      totalPriceSet { shopMoney { amount } }
      currentSubtotalPriceSet { shopMoney { amount } }
      subtotalPriceSet { shopMoney { amount } }
      totalShippingPriceSet { shopMoney { amount currencyCode } }
      shippingAddress {
        name firstName lastName company address1 address2 city province provinceCode zip country countryCodeV2
        phone
      }
      lineItems(first: %d) {
        pageInfo { hasNextPage endCursor }
        nodes {%s
        }
      }""" % (LINES_PER_ORDER, _LINE_FIELDS)

ORDERS_QUERY = """query ChangedOrders($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {%s
    }
  }
}""" % _ORDER_FIELDS

ORDER_QUERY = """query OneOrder($id: ID!) {
  order(id: $id) {%s
  }
}""" % _ORDER_FIELDS

ORDER_LINES_QUERY = """query OrderLines($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {%s
      }
    }
  }
}""" % _LINE_FIELDS

GraphQL = Callable[[str, dict, str], dict]  # (document, variables, operation) → the whole answer body


def search_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def changed_orders(graphql: GraphQL, *, since: datetime, until: datetime,
                   sleep: Callable[[float], None] = time.sleep) -> list[dict]:
    """Every order updated in [since, until], oldest change first, each as an order webhook body."""
    query = f"updated_at:>={search_time(since)} updated_at:<={search_time(until)}"
    orders: list[dict] = []
    after = None
    waited = 0.0
    while True:
        body = graphql(ORDERS_QUERY, {"first": ORDERS_PER_PAGE, "after": after, "query": query}, "orders")
        connection = (body.get("data") or {}).get("orders") or {}
        for node in connection.get("nodes") or []:
            orders.append(webhook_body(node, _all_lines(graphql, node)))
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return orders
        after = info.get("endCursor")
        wait = _wait_for_next_page(body)
        if wait > 0:
            if waited + wait > MAX_POLL_WAIT_SECONDS:
                log.info("shopify_poll_deferred", extra={"fields": {"orders_read": len(orders), "wait_s": wait}})
                raise RetryLater("Shopify's query cost budget is low; polling again later", retry_after=wait,
                                 count_attempt=False)
            sleep(wait)
            waited += wait


def fetch_order(graphql: GraphQL, *, order_gid: str) -> dict:
    """One order, read whole, as an order webhook body (ValueError if Shopify has no such order)."""
    node = (graphql(ORDER_QUERY, {"id": order_gid}, "order").get("data") or {}).get("order")
    if not node:
        raise ValueError(f"Shopify has no order {order_gid}")
    return webhook_body(node, _all_lines(graphql, node))


def _all_lines(graphql: GraphQL, node: dict) -> list[dict]:
    lines = node.get("lineItems") or {}
    nodes = list(lines.get("nodes") or [])
    page = lines.get("pageInfo") or {}
    while page.get("hasNextPage"):
        more = graphql(ORDER_LINES_QUERY, {"id": node["id"], "after": page.get("endCursor")}, "orderLines")
        more_lines = ((more.get("data") or {}).get("order") or {}).get("lineItems") or {}
        nodes.extend(more_lines.get("nodes") or [])
        page = more_lines.get("pageInfo") or {}
    return nodes


def _wait_for_next_page(body: dict) -> float:
    """Seconds until the bucket holds what this page cost (the next one costs the same), per extensions.cost."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        requested = float(cost.get("requestedQueryCost") or 0)
        available = float(status.get("currentlyAvailable"))
        rate = float(status.get("restoreRate") or 50)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, (requested - available) / rate) if rate > 0 else 0.0


def _amount(money_bag) -> str | None:
    return ((money_bag or {}).get("shopMoney") or {}).get("amount")


def _legacy_id(gid: str | None) -> int | None:
    """gid://shopify/LineItem/123 → 123."""
    tail = (gid or "").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _int_or_none(value) -> int | None:
    return int(value) if value not in (None, "") else None


def webhook_body(node: dict, line_nodes: list[dict]) -> dict:
    """GraphQL Order (+ all its line items) → the REST body Shopify's order webhooks deliver."""
    address = node.get("shippingAddress")
    if isinstance(address, dict):
        address = {"name": address.get("name"), "first_name": address.get("firstName"),
                   "last_name": address.get("lastName"), "company": address.get("company"),
                   "address1": address.get("address1"), "address2": address.get("address2"),
                   "city": address.get("city"), "province": address.get("province"),
                   "province_code": address.get("provinceCode"), "zip": address.get("zip"),
                   "country": address.get("country"), "country_code": address.get("countryCodeV2"),
                   "phone": address.get("phone")}
    shipping = (node.get("totalShippingPriceSet") or {}).get("shopMoney") or {}
    status = node.get("displayFinancialStatus")
    return {
        "id": _int_or_none(node.get("legacyResourceId")),
        "admin_graphql_api_id": node.get("id"),
        "name": node.get("name"),
        "email": node.get("email"),
        "currency": node.get("currencyCode"),
        "current_total_price": _amount(node.get("currentTotalPriceSet")),
        "total_price": _amount(node.get("totalPriceSet")),
        "current_subtotal_price": _amount(node.get("currentSubtotalPriceSet")),
        "subtotal_price": _amount(node.get("subtotalPriceSet")),
        "total_shipping_price_set": {"shop_money": {"amount": shipping.get("amount"),
                                                    "currency_code": shipping.get("currencyCode")}},
        # REST's financial_status is GraphQL's enum in lower case (PARTIALLY_REFUNDED → partially_refunded).
        "financial_status": status.lower() if isinstance(status, str) else None,
        "cancelled_at": node.get("cancelledAt"),
        "test": bool(node.get("test")),
        "note": node.get("note"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "shipping_address": address,
        "line_items": [{
            "id": _legacy_id(line.get("id")),
            "admin_graphql_api_id": line.get("id"),
            "variant_id": _int_or_none((line.get("variant") or {}).get("legacyResourceId")),
            "product_id": _int_or_none((line.get("product") or {}).get("legacyResourceId")),
            "sku": line.get("sku"),
            "name": line.get("name"),
            "title": line.get("title"),
            "quantity": line.get("quantity"),
            "current_quantity": line.get("currentQuantity"),
            "price": _amount(line.get("originalUnitPriceSet")),
            "requires_shipping": line.get("requiresShipping", True),
        } for line in line_nodes],
    }
