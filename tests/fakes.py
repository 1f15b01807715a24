"""Test doubles of CJ's and Shopify's APIs as `responses` callbacks, following their documented behaviour."""
from __future__ import annotations

import copy
import json
import re
from urllib.parse import parse_qs, urlsplit

import requests
import responses

from service.timeutil import utcnow
from tests.conftest import CJ_BASE, CJ_SAMPLES, SHOP_DOMAIN, SHOPIFY_SAMPLES, load_fixture


def envelope(data=None, code=200, message="Success"):
    return {"code": code, "result": code == 200, "message": message, "data": data, "requestId": "req-test"}


class FakeCj:
    """CJ account with orders keyed by orderNumber; 1603003 on a duplicate orderNumber."""

    def __init__(self, rsps: responses.RequestsMock, *, balance=100.0, freight=None):
        self.rsps = rsps
        self.orders: dict[str, dict] = {}
        self.calls: list[tuple[str, dict]] = []
        self.balance = balance
        self.freight = freight if freight is not None else CJ_SAMPLES["freightCalculate_response"]["body"]["data"]
        self.fail_next: dict[str, list] = {}  # operation → queued failures (Exception or (status, body))
        self.variants: dict[str, list] = {}
        self.stock: dict[str, dict[str, int]] = {}  # vid → {warehouse country: count}; unknown vids: China only
        self.delisted: set[str] = set()  # vids CJ no longer sells: stock reads answer 1602003
        self.prices: dict[str, float] = {}  # vid → variantSellPrice (USD); unknown vids: 6.8
        self.pids: dict[str, str] = {}  # vid → pid; unknown vids: "p-<vid>"
        self.subscribed: set[str] = set()
        self.subscription_cap = 1000  # products an account level may subscribe
        self.settings = {"qpsLimit": 20, "quotaLimits": []}
        self.next_id = 2509231418372749100
        for method, path, op in [
            ("POST", "/authentication/getAccessToken", "getAccessToken"),
            ("POST", "/authentication/refreshAccessToken", "refreshAccessToken"),
            ("POST", "/logistic/freightCalculate", "freightCalculate"),
            ("POST", "/shopping/order/createOrderV2", "createOrderV2"),
            ("GET", "/shopping/order/getOrderDetail", "getOrderDetail"),
            ("GET", "/shopping/order/list", "orderList"),
            ("POST", "/webhook/set", "webhookSet"),
            ("PATCH", "/shopping/order/confirmOrder", "confirmOrder"),
            ("POST", "/shopping/pay/payBalance", "payBalance"),
            ("DELETE", "/shopping/order/deleteOrder", "deleteOrder"),
            ("GET", "/product/variant/query", "variantQuery"),
            ("GET", "/product/stock/queryByVid", "stockQueryByVid"),
            ("GET", "/product/variant/queryByVid", "variantQueryByVid"),
            ("POST", "/webhook/product/subscribe", "productSubscribe"),
            ("POST", "/webhook/product/unsubscribe", "productUnsubscribe"),
            ("GET", "/setting/get", "settingGet"),
            ("GET", "/shopping/pay/getBalance", "getBalance"),
        ]:
            rsps.add_callback(method, re.compile(re.escape(CJ_BASE + path) + r"(\?.*)?$"),
                              callback=self._dispatch(op))

    def ops(self, name=None):
        return [c for c in self.calls if name is None or c[0] == name]

    def _dispatch(self, op):
        def handler(request):
            parsed = parse_qs(urlsplit(request.url).query)
            query = {k: v[0] for k, v in parsed.items()}
            self.query_lists = parsed  # repeated parameters (orderIds=…&orderIds=…)
            body = json.loads(request.body) if request.body else {}
            self.calls.append((op, body or query))
            queued = self.fail_next.get(op)
            if queued:
                failure = queued.pop(0)
                if isinstance(failure, Exception):
                    raise failure
                if callable(failure):
                    return failure(body, query)
                status, payload = failure
                return status, {}, json.dumps(payload)
            if op != "getAccessToken" and op != "refreshAccessToken" and not request.headers.get("CJ-Access-Token"):
                return 200, {}, json.dumps(envelope(code=1600002, message="access token cannot be empty"))
            result = getattr(self, "_" + op)(body, query)
            return 200, {}, json.dumps(result)
        return handler

    def _getAccessToken(self, body, query):
        return CJ_SAMPLES["getAccessToken_response"]["body"] | {"data": dict(
            CJ_SAMPLES["getAccessToken_response"]["body"]["data"], accessTokenExpiryDate="2099-01-01T00:00:00+08:00",
            refreshTokenExpiryDate="2099-06-01T00:00:00+08:00")}

    def _refreshAccessToken(self, body, query):
        data = dict(self._getAccessToken(body, query)["data"], accessToken="refreshed-token")
        data.pop("openId")
        return envelope(data)

    def _freightCalculate(self, body, query):
        return envelope(self.freight)

    def create_order(self, body):
        """What CJ does on createOrderV2: store it, or refuse a duplicate orderNumber."""
        number = body["orderNumber"]
        if number in self.orders:
            return CJ_SAMPLES["createOrderV2_duplicate_error"]["body"]
        self.next_id += 1
        order = {"orderId": str(self.next_id), "orderNumber": number, "orderStatus": "CREATED",
                 "orderAmount": 18.31, "request": body, "logisticName": body["logisticName"],
                 "createDate": utcnow().strftime("%Y-%m-%d %H:%M:%S")}
        self.orders[number] = order
        if body.get("payType") == 2:  # CJ carts, confirms and pays from the balance in the same call
            order["orderStatus"] = "UNPAID"
            if self.balance < order["orderAmount"]:
                return envelope(code=1604000, message="Balance is insufficient")
            self.balance -= order["orderAmount"]
            order["orderStatus"] = "UNSHIPPED"
        data = copy.deepcopy(CJ_SAMPLES["createOrderV2_response"]["body"]["data"])
        data.update({"orderId": order["orderId"], "orderNumber": number, "orderStatus": order["orderStatus"]})
        return envelope(data)

    def _createOrderV2(self, body, query):
        return self.create_order(body)

    def _find(self, key):
        for order in self.orders.values():
            if key in (order["orderId"], order["orderNumber"]):
                return order
        return None

    def _getOrderDetail(self, body, query):
        order = self._find(query.get("orderId"))
        if order is None:
            return envelope(code=1600300, message="order not found")
        request = order.get("request") or {}
        return envelope({"orderId": order["orderId"], "orderNum": order["orderNumber"],
                         "orderStatus": order["orderStatus"], "logisticName": order["logisticName"],
                         "trackNumber": order.get("trackNumber"), "trackingUrl": order.get("trackingUrl"),
                         "orderAmount": order["orderAmount"],
                         "shippingCountryCode": request.get("shippingCountryCode"),
                         "shippingCustomerName": request.get("shippingCustomerName"),
                         "productList": [{"vid": p["vid"], "quantity": p["quantity"],
                                          "storeLineItemId": p.get("storeLineItemId")}
                                         for p in request.get("products") or []]})

    def add_order(self, number, *, order_id, status="UNSHIPPED", created="2026-11-26 10:00:00", amount=18.31,
                  product=None, postage=None, paid=None):
        """An order already on the account (placed by hand on My CJ, or by something else)."""
        self.orders[number] = {"orderId": order_id, "orderNumber": number, "orderStatus": status,
                               "orderAmount": amount, "productAmount": product, "postageAmount": postage,
                               "createDate": created, "paymentDate": paid, "logisticName": "CJPacket Ordinary"}

    def _orderList(self, body, query):
        wanted = set(self.query_lists.get("orderIds") or [])
        if not wanted:  # by status, newest first, paged (CJ's list has no date filter)
            listed = sorted((o for o in self.orders.values() if o["orderStatus"] == query.get("status")),
                            key=lambda o: o.get("createDate") or "", reverse=True)
            page, size = int(query.get("pageNum", 1)), int(query.get("pageSize", 20))
            rows = [{"orderId": o["orderId"], "orderNum": o["orderNumber"], "cjOrderId": "CJ" + o["orderId"][-10:],
                     "orderStatus": o["orderStatus"], "orderAmount": o["orderAmount"],
                     "productAmount": o.get("productAmount"), "postageAmount": o.get("postageAmount"),
                     "createDate": o.get("createDate"), "paymentDate": o.get("paymentDate"),
                     "logisticName": o["logisticName"]} for o in listed[(page - 1) * size:page * size]]
            return envelope({"pageNum": page, "pageSize": size, "total": len(listed), "list": rows})
        rows = []
        for order in self.orders.values():
            if order["orderId"] in wanted:
                rows.append({"orderId": order["orderId"], "orderNum": order["orderNumber"],
                             "cjOrderId": "CJ" + order["orderId"][-10:], "orderStatus": order["orderStatus"],
                             "logisticName": order["logisticName"], "trackNumber": order.get("trackNumber"),
                             "trackingUrl": order.get("trackingUrl"), "orderAmount": order["orderAmount"]})
        return envelope({"pageNum": 1, "pageSize": len(wanted), "total": len(rows), "list": rows})

    def _webhookSet(self, body, query):
        self.webhook_settings = body
        return envelope(True)

    def _confirmOrder(self, body, query):
        order = self._find(body.get("orderId"))
        if order is None:
            return envelope(code=1603100, message="order not found")
        if order["orderStatus"] == "CREATED":
            order["orderStatus"] = "UNPAID"
        return envelope(order["orderId"])

    def _payBalance(self, body, query):
        order = self._find(body.get("orderId"))
        if order is None:
            return envelope(code=1603100, message="order not found")
        if order["orderStatus"] in ("UNSHIPPED", "SHIPPED", "DELIVERED"):
            return envelope(code=1603101, message="order already paid")
        if self.balance < order["orderAmount"]:
            return envelope(code=1604000, message="Balance is insufficient")
        self.balance -= order["orderAmount"]
        order["orderStatus"] = "UNSHIPPED"
        return envelope(None)

    def _deleteOrder(self, body, query):
        order = self._find(query.get("orderId"))
        if order is None:
            return envelope(code=1603100, message="order not found")
        order["orderStatus"] = "CANCELLED"
        return envelope(order["orderId"])

    def _variantQueryByVid(self, body, query):
        vid = query.get("vid")
        if vid in self.delisted:
            return envelope(code=1602003, message="variant delisted")
        return envelope({"vid": vid, "pid": self.pids.get(vid, f"p-{vid}"), "variantSku": f"CJ-{vid}",
                         "variantSellPrice": self.prices.get(vid, 6.8)})

    def _productSubscribe(self, body, query):
        ids = body["productIds"]
        assert 1 <= len(ids) <= 100
        if len(self.subscribed | set(ids)) > self.subscription_cap:
            return envelope(code=1600100, message="subscription limit reached for your level")
        self.subscribed |= set(ids)
        return envelope(True)

    def _productUnsubscribe(self, body, query):
        assert 1 <= len(body["productIds"]) <= 100
        self.subscribed -= set(body["productIds"])
        return envelope(True)

    def _stockQueryByVid(self, body, query):
        if query.get("vid") in self.delisted:
            return envelope(code=1602003, message="variant delisted")
        by_country = self.stock.get(query.get("vid"), {"CN": 5000})
        return envelope([{"areaEn": f"{country} warehouse", "countryCode": country, "totalInventoryNum": count,
                          "cjInventoryNum": count, "factoryInventoryNum": 0} for country, count in by_country.items()])

    def _getBalance(self, body, query):
        return envelope({"amount": round(self.balance, 2), "noWithdrawalAmount": 0, "freezeAmount": None})

    def _settingGet(self, body, query):
        return envelope({"setting": self.settings} | self.settings)

    def _variantQuery(self, body, query):
        variants = self.variants.get(query.get("variantSku"))
        if variants is None:
            return envelope(code=1602000, message="variant not found")
        return envelope(variants)

    def ship(self, order_number, tracking="CJPKD0000000001US"):
        order = self.orders[order_number]
        order.update(orderStatus="SHIPPED", trackNumber=tracking,
                     trackingUrl=f"https://www.cjpacket.com/?trackingNumber={tracking}")
        return order


class FakeShopify:
    """One Shopify order's fulfillment orders and fulfillments, over the GraphQL Admin API."""

    def __init__(self, rsps: responses.RequestsMock, *, domain=SHOP_DOMAIN, version="2026-10"):
        self.requests: list[dict] = []
        self.fulfillments: list[dict] = []
        self.throttle_next = 0
        self.fail_creates: set[int] = set()  # these fulfillmentCreate calls (1 = the first) answer HTTP 500
        self.create_calls = 0
        self.fail_graphql: list[dict] = []  # answers (200, with errors) given to the next requests, in order
        self.polled_orders: list[dict] = []  # GraphQL Order nodes the orders(query: updated_at…) poll returns
        # Inventory: variant gid → {"item": gid, "tracked": bool, "sku": str, "levels": {location gid: available}}
        self.inventory: dict[str, dict] = {}
        self.before_inventory_write = None  # called before a SetStock mutation is applied (a person edits)
        self.refuse_prices = False  # SetPrices answers a userError (an app without write_products)
        self.refuse_items: set[str] = set()  # inventory item gids a SetStock refuses (INVALID_QUANTITY_TOO_HIGH)
        self.idempotency: dict[str, dict] = {}
        data = copy.deepcopy(SHOPIFY_SAMPLES["shopify_graphql_fulfillment_orders_query"]["response"]["data"])
        self.order = data["order"]
        rsps.add_callback("POST", f"https://{domain}/admin/api/{version}/graphql.json", callback=self._handle)

    def operations(self, name=None):
        out = []
        for r in self.requests:
            op = re.search(r"(query|mutation) (\w+)", r["query"]).group(2)
            if name is None or op == name:
                out.append(r)
        return out

    def _handle(self, request):
        body = json.loads(request.body)
        assert request.headers["X-Shopify-Access-Token"] == "shpat_EXAMPLE_NOT_REAL"
        self.requests.append(body)
        if self.fail_graphql:
            return 200, {}, json.dumps(self.fail_graphql.pop(0))
        if self.throttle_next:
            self.throttle_next -= 1
            return 200, {}, json.dumps(SHOPIFY_SAMPLES["shopify_graphql_throttled_response"])
        query = body["query"]
        if query.lstrip().startswith(("query StockOfVariants", "query VariantBySku", "mutation SetStock",
                                      "mutation SetPrices")):
            return 200, {}, json.dumps(self._inventory(query, body["variables"]))
        if query.lstrip().startswith("query OneOrder"):
            wanted = body["variables"]["id"]
            node = next((n for n in self.polled_orders if n["id"] == wanted), None)
            return 200, {}, json.dumps({"data": {"order": copy.deepcopy(node)}})
        if query.lstrip().startswith("query ChangedOrders"):
            page = copy.deepcopy(load_fixture("shopify_graphql_orders_page.json")["response"])
            page["data"]["orders"]["nodes"] = copy.deepcopy(self.polled_orders)
            return 200, {}, json.dumps(page)
        if "fulfillmentOrders" in query and query.lstrip().startswith("query"):
            order = copy.deepcopy(self.order)
            order["fulfillments"] = copy.deepcopy(self.fulfillments)
            return 200, {}, json.dumps({"data": {"order": order}})
        if "fulfillmentCreate" in query:
            f_input = body["variables"]["fulfillment"]
            self.create_calls += 1
            if self.create_calls in self.fail_creates:  # failed before Shopify did anything
                return 500, {}, json.dumps({"errors": "Internal Server Error"})
            for group in f_input["lineItemsByFulfillmentOrder"]:
                fo = next(n for n in self.order["fulfillmentOrders"]["nodes"] if n["id"] == group["fulfillmentOrderId"])
                for item in group["fulfillmentOrderLineItems"]:
                    node = next(n for n in fo["lineItems"]["nodes"] if n["id"] == item["id"])
                    if item["quantity"] > node["remainingQuantity"]:
                        return 200, {}, json.dumps({"data": {"fulfillmentCreate": {"fulfillment": None, "userErrors": [
                            {"field": ["fulfillment"], "message": "quantity exceeds remaining"}]}}})
                    node["remainingQuantity"] -= item["quantity"]
            line_nodes = []
            for group in f_input["lineItemsByFulfillmentOrder"]:
                fo = next(n for n in self.order["fulfillmentOrders"]["nodes"] if n["id"] == group["fulfillmentOrderId"])
                for item in group["fulfillmentOrderLineItems"]:
                    node = next(n for n in fo["lineItems"]["nodes"] if n["id"] == item["id"])
                    line_nodes.append({"quantity": item["quantity"], "lineItem": {"id": node["lineItem"]["id"]}})
            fulfillment = {"id": f"gid://shopify/Fulfillment/{len(self.fulfillments) + 1}", "status": "SUCCESS",
                           "trackingInfo": [f_input["trackingInfo"]],
                           "fulfillmentLineItems": {"nodes": line_nodes}}
            self.fulfillments.append(fulfillment)
            return 200, {}, json.dumps({"data": {"fulfillmentCreate": {"fulfillment": fulfillment, "userErrors": []}}})
        if "fulfillmentTrackingInfoUpdate" in query:
            v = body["variables"]
            f = next(f for f in self.fulfillments if f["id"] == v["fulfillmentId"])
            f["trackingInfo"] = [v["trackingInfoInput"]]
            return 200, {}, json.dumps({"data": {"fulfillmentTrackingInfoUpdate": {"fulfillment": f, "userErrors": []}}})
        raise AssertionError(f"unexpected GraphQL: {query[:80]}")

    def add_variant(self, variant_id, *, item, levels, tracked=True, sku=None, price="19.99", product=1):
        self.inventory[f"gid://shopify/ProductVariant/{variant_id}"] = {
            "item": f"gid://shopify/InventoryItem/{item}", "tracked": tracked, "sku": sku, "price": price,
            "product": f"gid://shopify/Product/{product}",
            "levels": {f"gid://shopify/Location/{loc}": qty for loc, qty in levels.items()}}

    def price(self, variant_id):
        return self.inventory[f"gid://shopify/ProductVariant/{variant_id}"]["price"]

    def available(self, variant_id, location=1):
        return self.inventory[f"gid://shopify/ProductVariant/{variant_id}"]["levels"][f"gid://shopify/Location/{location}"]

    def _inventory(self, query, variables):
        if query.lstrip().startswith("query StockOfVariants"):
            nodes = []
            for gid in variables["ids"]:
                v = self.inventory.get(gid)
                nodes.append(None if v is None else {"id": gid, "sku": v["sku"], "price": v["price"],
                                                     "product": {"id": v["product"]}, "inventoryItem": {
                    "id": v["item"], "tracked": v["tracked"], "inventoryLevels": {"nodes": [
                        {"location": {"id": loc}, "quantities": [{"name": "available", "quantity": qty}]}
                        for loc, qty in v["levels"].items()]}}})
            return {"data": {"nodes": nodes}}
        if query.lstrip().startswith("query VariantBySku"):
            sku = variables["query"].split(":", 1)[1].strip('"')
            return {"data": {"productVariants": {"nodes": [{"id": gid, "sku": v["sku"]} for gid, v in
                                                           self.inventory.items() if v["sku"] == sku]}}}
        if query.lstrip().startswith("mutation SetPrices"):
            if self.refuse_prices:
                return {"data": {"productVariantsBulkUpdate": {"productVariants": [], "userErrors": [
                    {"code": "INVALID_INPUT", "field": ["variants", "0", "price"], "message": "Access denied"}]}}}
            changed = []
            for change in variables["variants"]:
                v = self.inventory[change["id"]]
                assert v["product"] == variables["productId"], "MUST_BE_FOR_THIS_PRODUCT"
                v["price"] = change["price"]
                changed.append({"id": change["id"], "price": v["price"]})
            return {"data": {"productVariantsBulkUpdate": {"productVariants": changed, "userErrors": []}}}
        key = variables["key"]
        if key in self.idempotency:
            return self.idempotency[key]
        if self.before_inventory_write:
            self.before_inventory_write(self)
        by_item = {v["item"]: v for v in self.inventory.values()}
        data = variables["input"]
        assert data["name"] == "available" and data["reason"] == "correction"
        errors = []
        for index, q in enumerate(data["quantities"]):
            level = by_item[q["inventoryItemId"]]["levels"]
            if q["inventoryItemId"] in self.refuse_items:
                errors.append({"code": "INVALID_QUANTITY_TOO_HIGH", "field": ["input", "quantities", str(index),
                               "quantity"], "message": "The quantity is too high"})
            elif level.get(q["locationId"]) != q["changeFromQuantity"]:
                errors.append({"code": "CHANGE_FROM_QUANTITY_STALE", "field": ["input", "quantities", str(index),
                               "changeFromQuantity"], "message": "The quantity has changed"})
        if not errors:  # all or nothing
            for q in data["quantities"]:
                by_item[q["inventoryItemId"]]["levels"][q["locationId"]] = q["quantity"]
        answer = {"data": {"inventorySetQuantities": {
            "inventoryAdjustmentGroup": None if errors else {"id": f"gid://shopify/InventoryAdjustmentGroup/{len(self.idempotency) + 1}"},
            "userErrors": errors}}}
        self.idempotency[key] = answer
        return answer


def timeout_error():
    return requests.exceptions.ReadTimeout("read timed out")


WOO_BASE = "https://shop.example.com/wp-json"


class FakeWoo:
    """A WooCommerce site's REST API: orders, notes, Shipment Tracking or native fulfillments, webhooks."""

    def __init__(self, rsps: responses.RequestsMock, *, mechanism="shipment_tracking", orders=None):
        from tests.conftest import SHOPIFY_SAMPLES
        self.mechanism = mechanism
        self.orders = {o["id"]: o for o in (orders or [copy.deepcopy(SHOPIFY_SAMPLES["woocommerce_order_created"]["body"])])}
        self.notes: dict[int, list] = {}
        self.trackings: dict[int, list] = {}
        self.fulfillments: dict[int, list] = {}
        self.webhooks: list[dict] = []
        self.products: dict[int, dict] = {}  # id → {id, type, parent_id, sku, manage_stock, stock_quantity}
        self.requests: list[tuple[str, str, dict, dict]] = []  # method, path, query, body
        rsps.add_callback(responses.GET, re.compile(re.escape(WOO_BASE) + r"/?(\?.*)?$"), callback=self._index)
        for method in ("GET", "POST", "PUT"):
            rsps.add_callback(method, re.compile(re.escape(WOO_BASE) + r"/(wc|wc-shipment-tracking)/v3/.*"),
                              callback=self._handle)

    def calls(self, method=None, contains=""):
        return [r for r in self.requests if (method is None or r[0] == method) and contains in r[1]]

    def _index(self, request):
        self.requests.append(("GET", "/", {}, {}))
        namespaces = ["wp/v2", "wc/v3"]
        routes = {"/wc/v3/orders": {}}
        if self.mechanism == "shipment_tracking":
            namespaces.append("wc-shipment-tracking/v3")
        if self.mechanism == "native_fulfillments":
            routes["/wc/v3/orders/(?P<order_id>[\\d]+)/fulfillments"] = {}
        return 200, {}, json.dumps({"name": "Shop", "namespaces": namespaces, "routes": routes})

    def _handle(self, request):
        parts = urlsplit(request.url)
        path = parts.path[len("/wp-json"):]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = json.loads(request.body) if request.body else {}
        self.requests.append((request.method, path, query, body))
        assert request.headers.get("Authorization", "").startswith("Basic ")
        m = re.fullmatch(r"/wc/v3/orders/(\d+)", path)
        if m:
            order = self.orders[int(m.group(1))]
            if request.method == "PUT":
                order.update(body)
            return 200, {}, json.dumps(order)
        if path == "/wc/v3/orders":
            page, per_page = int(query["page"]), int(query["per_page"])
            after, before = query["modified_after"], query["modified_before"]
            hits = sorted((o for o in self.orders.values() if after < o["date_modified_gmt"] < before),
                          key=lambda o: o["date_modified_gmt"])
            chunk = hits[(page - 1) * per_page: page * per_page]
            pages = max(1, -(-len(hits) // per_page))
            return 200, {"X-WP-TotalPages": str(pages), "X-WP-Total": str(len(hits))}, json.dumps(chunk)
        m = re.fullmatch(r"/wc/v3/orders/(\d+)/notes", path)
        if m:
            notes = self.notes.setdefault(int(m.group(1)), [])
            if request.method == "POST":
                notes.append(dict(body, id=len(notes) + 1))
                return 201, {}, json.dumps(notes[-1])
            return 200, {}, json.dumps(notes)
        m = re.fullmatch(r"/wc-shipment-tracking/v3/orders/(\d+)/shipment-trackings", path)
        if m:
            if self.mechanism != "shipment_tracking":
                return 404, {}, json.dumps({"code": "rest_no_route"})
            items = self.trackings.setdefault(int(m.group(1)), [])
            if request.method == "POST":
                link = body.get("custom_tracking_link", "")  # shown as sent (the plugin's current builds)
                items.append({"tracking_id": f"{len(items) + 1:032x}", "tracking_number": body["tracking_number"],
                              "tracking_provider": body.get("custom_tracking_provider"), "tracking_link": link})
                return 201, {}, json.dumps(items[-1])
            return 200, {}, json.dumps(items)
        m = re.fullmatch(r"/wc/v3/orders/(\d+)/fulfillments", path)
        if m:
            if self.mechanism != "native_fulfillments":
                return 404, {}, json.dumps({"code": "rest_no_route"})
            items = self.fulfillments.setdefault(int(m.group(1)), [])
            if request.method == "POST":
                items.append(dict(body, id=len(items) + 1))
                return 201, {}, json.dumps(items[-1])
            return 200, {}, json.dumps(items)
        answer = self._products(request.method, path, query, body)
        if answer is not None:
            return answer
        if path == "/wc/v3/webhooks":
            if request.method == "POST":
                self.webhooks.append(dict(body, id=len(self.webhooks) + 1))
                return 201, {}, json.dumps(self.webhooks[-1])
            return 200, {}, json.dumps(self.webhooks)
        m = re.fullmatch(r"/wc/v3/webhooks/(\d+)", path)
        if m and request.method == "PUT":
            hook = next(w for w in self.webhooks if w["id"] == int(m.group(1)))
            hook.update(body)
            return 200, {}, json.dumps(hook)
        return 404, {}, json.dumps({"code": "rest_no_route", "path": path})

    def _products(self, method, path, query, body):
        """products and variations: read one, list by include, batch-update stock_quantity."""
        m = re.fullmatch(r"/wc/v3/products/(\d+)", path)
        if m and method == "GET":
            product = self.products.get(int(m.group(1)))
            if product is None:
                return 404, {}, json.dumps({"code": "woocommerce_rest_product_invalid_id", "data": {"status": 404}})
            return 200, {}, json.dumps(product)
        if path == "/wc/v3/products" and method == "GET" and "sku" in query:
            return 200, {}, json.dumps([p for p in self.products.values() if p.get("sku") == query["sku"]
                                        and p["type"] != "variation"])
        m = re.fullmatch(r"/wc/v3/products(?:/(\d+)/variations)?", path)
        if m and method == "GET":
            wanted = {int(i) for i in query.get("include", "").split(",") if i}
            parent = int(m.group(1)) if m.group(1) else None
            return 200, {}, json.dumps([p for p in self.products.values() if p["id"] in wanted
                                        and (p.get("parent_id") or None) == parent])
        m = re.fullmatch(r"/wc/v3/products(?:/(\d+)/variations)?/batch", path)
        if m and method == "POST":
            updated = []
            for change in body.get("update") or []:
                product = self.products.get(int(change["id"]))
                if product is None:
                    updated.append({"id": change["id"], "error": {"code": "woocommerce_rest_product_invalid_id"}})
                    continue
                product.update({k: v for k, v in change.items() if k != "id"})
                updated.append(copy.deepcopy(product))
            return 200, {}, json.dumps({"update": updated})
        return None


EBAY_API = "https://api.ebay.com"


class FakeEbay:
    """A seller's eBay: the OAuth token endpoint and the Sell Fulfillment API's orders and shipping fulfillments."""

    def __init__(self, rsps: responses.RequestsMock, *, orders=None, page_size=None):
        from tests.conftest import load_fixture
        samples = load_fixture("ebay_samples.json")
        self.orders: dict[str, dict] = {o["orderId"]: o for o in (orders if orders is not None else copy.deepcopy(
            samples["ebay_getOrders_response"]["orders"]))}
        self.page_size = page_size  # answer at most this many per page (eBay's own limit), else what is asked
        self.fulfillments: dict[str, list[dict]] = {}
        self.grants: list[dict] = []
        self.valid_tokens: set[str] = set()
        self.reject_next_call = 0  # the next API calls answer 401 (a token revoked early)
        self.timeout_after_create = 0  # the next creates are stored, then the answer is lost
        self.requests: list[tuple[str, str, dict]] = []
        rsps.add_callback("POST", f"{EBAY_API}/identity/v1/oauth2/token", callback=self._token)
        rsps.add_callback("GET", re.compile(re.escape(EBAY_API + "/sell/fulfillment/v1/") + r".*"),
                          callback=self._api)
        rsps.add_callback("POST", re.compile(re.escape(EBAY_API + "/sell/fulfillment/v1/") + r".*"),
                          callback=self._api)
        # Inventory API: sku → {"quantity", "offers": [{"offerId", "price", "currency", "status"?,
        # "availableQuantity"?}]}; only these SKUs are inventory items (a Seller Hub listing is not).
        self.consented = {"sell.fulfillment", "sell.inventory"}  # the scopes the seller's consent granted
        self.inventory: dict[str, dict] = {}
        self.refuse_skus: set[str] = set()  # bulkUpdatePriceQuantity answers 400 for these
        self.refuse_offers: set[str] = set()  # and for these offers
        self.token_scopes: dict[str, set] = {}
        self.inventory_requests: list[tuple[str, str, dict]] = []
        for method in ("GET", "POST"):
            rsps.add_callback(method, re.compile(re.escape(EBAY_API + "/sell/inventory/v1/") + r".*"),
                              callback=self._inventory)

    def _token(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        assert request.headers["Authorization"].startswith("Basic ")
        self.grants.append(form)
        asked = {scope.rsplit("/", 1)[1] for scope in form["scope"].split()}
        if not asked <= self.consented:
            return 400, {}, json.dumps({"error": "invalid_scope", "error_description": "The requested scope is "
                                        "invalid, unknown, malformed, or exceeds the scope granted to the client"})
        token = f"v^1.1#i^1#FAKE_ACCESS_{len(self.grants)}"
        self.valid_tokens = {token}
        self.token_scopes[token] = asked
        return 200, {}, json.dumps({"access_token": token, "expires_in": 7200, "token_type": "User Access Token"})

    def _inventory(self, request):
        parts = urlsplit(request.url)
        path = parts.path[len("/sell/inventory/v1"):]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = json.loads(request.body) if request.body else {}
        self.inventory_requests.append((request.method, path, query if request.method == "GET" else body))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return 401, {}, json.dumps({"errors": [{"errorId": 1001, "message": "Invalid access token"}]})
        if "sell.inventory" not in self.token_scopes.get(token, set()):
            return 403, {}, json.dumps({"errors": [{"errorId": 1100, "message": "Access denied: insufficient "
                                                    "permissions"}]})
        if path == "/bulk_get_inventory_item":
            assert len(body["requests"]) <= 25
            answers = []
            for req in body["requests"]:
                item = self.inventory.get(req["sku"])
                if item is None:
                    answers.append({"statusCode": 404, "sku": req["sku"], "errors": [
                        {"errorId": 25702, "message": "SKU could not be found"}]})
                else:
                    answers.append({"statusCode": 200, "sku": req["sku"], "inventoryItem": {
                        "sku": req["sku"], "condition": "NEW",
                        "availability": {"shipToLocationAvailability": {"quantity": item["quantity"]}}}})
            return 207 if any(a["statusCode"] != 200 for a in answers) else 200, {}, json.dumps(
                {"responses": answers})
        if path == "/offer" and request.method == "GET":
            item = self.inventory.get(query["sku"])
            if item is None or not item.get("offers"):
                return 404, {}, json.dumps({"errors": [{"errorId": 25713, "message": "This Offer is not available"}]})
            return 200, {}, json.dumps({"total": len(item["offers"]), "offers": [
                dict({"offerId": o["offerId"], "sku": query["sku"], "marketplaceId": o.get("marketplaceId", "EBAY_US"),
                      "status": o.get("status", "PUBLISHED"),
                      "pricingSummary": {"price": {"value": o["price"], "currency": o["currency"]}}},
                     **({"availableQuantity": o["availableQuantity"]} if "availableQuantity" in o else {}))
                for o in item["offers"]]})
        if path == "/bulk_update_price_quantity":
            if len({r["sku"] for r in body["requests"]}) != 1:  # "Only one SKU can be updated per call"
                return 400, {}, json.dumps({"errors": [{"errorId": 25709, "message": "Invalid value for sku"}]})
            answers = []
            for req in body["requests"]:
                item = self.inventory.get(req["sku"])
                if item is None or req["sku"] in self.refuse_skus:
                    answers.append({"statusCode": 400, "sku": req["sku"], "errors": [
                        {"errorId": 25001, "message": "A system error has occurred"}]})
                    continue
                if "shipToLocationAvailability" in req:
                    item["quantity"] = req["shipToLocationAvailability"]["quantity"]
                    answers.append({"statusCode": 200, "sku": req["sku"]})
                for offer in req.get("offers") or []:
                    mine = next(o for o in item["offers"] if o["offerId"] == offer["offerId"])
                    if mine.get("status", "PUBLISHED") != "PUBLISHED" or offer["offerId"] in self.refuse_offers:
                        answers.append({"statusCode": 400, "sku": req["sku"], "offerId": offer["offerId"],
                                        "errors": [{"errorId": 25713, "message": "This Offer is not available"}]})
                        continue
                    if "price" in offer:
                        assert offer["price"]["currency"] == mine["currency"]
                        mine["price"] = offer["price"]["value"]
                    if "availableQuantity" in offer:
                        mine["availableQuantity"] = offer["availableQuantity"]
                    answers.append({"statusCode": 200, "sku": req["sku"], "offerId": offer["offerId"]})
            return 200, {}, json.dumps({"responses": answers})
        raise AssertionError(f"unexpected eBay Inventory API call {request.method} {path}")

    def calls(self, method=None, path_part=""):
        return [r for r in self.requests if (method is None or r[0] == method) and path_part in r[1]]

    def _api(self, request):
        parts = urlsplit(request.url)
        path = parts.path[len("/sell/fulfillment/v1"):]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = json.loads(request.body) if request.body else {}
        self.requests.append((request.method, path, query if request.method == "GET" else body))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.reject_next_call or token not in self.valid_tokens:
            self.reject_next_call = max(0, self.reject_next_call - 1)
            return 401, {}, json.dumps({"errors": [{"errorId": 1001, "message": "Invalid access token"}]})
        if request.method == "GET" and path == "/order":
            start, end = re.fullmatch(r"lastmodifieddate:\[(.*)\.\.(.*)\]", query["filter"]).groups()
            hits = sorted((o for o in self.orders.values() if start <= o["lastModifiedDate"] <= end),
                          key=lambda o: o["lastModifiedDate"])
            limit = min(int(query.get("limit", 50)), self.page_size or 10 ** 6)
            offset = int(query.get("offset", 0))
            page = hits[offset:offset + limit]
            more = offset + limit < len(hits)
            return 200, {}, json.dumps({"total": len(hits), "limit": limit, "offset": offset, "orders": page,
                                        "next": f"{EBAY_API}/sell/fulfillment/v1/order?offset={offset + limit}"
                                        if more else None})
        m = re.fullmatch(r"/order/([^/]+)/shipping_fulfillment", path)
        if m and request.method == "GET":
            return 200, {}, json.dumps({"total": len(self.fulfillments.get(m.group(1), [])),
                                        "fulfillments": self.fulfillments.get(m.group(1), [])})
        if m and request.method == "POST":
            items = self.fulfillments.setdefault(m.group(1), [])
            fulfillment_id = f"F{len(items) + 1}"
            items.append({"fulfillmentId": fulfillment_id, "lineItems": body["lineItems"],
                          "shipmentTrackingNumber": body.get("trackingNumber"),
                          "shippingCarrierCode": body.get("shippingCarrierCode")})
            if self.timeout_after_create:
                self.timeout_after_create -= 1
                raise requests.exceptions.ReadTimeout("read timed out")
            return 201, {"Location": f"{EBAY_API}/sell/fulfillment/v1/order/{m.group(1)}/shipping_fulfillment/"
                                     f"{fulfillment_id}"}, "{}"
        m = re.fullmatch(r"/order/([^/]+)", path)
        if m:
            return 200, {}, json.dumps(self.orders[m.group(1)])
        raise AssertionError(f"unexpected eBay call {request.method} {path}")


TIKTOK_API = "https://tts.test"


class FakeTikTok:
    """A TikTok Shop app's API: the token refresh and Get Order Detail, each call's sign checked."""

    def __init__(self, rsps: responses.RequestsMock, *, app_key="6test0appkey0abc",
                 app_secret="testsecret0000000000000000000000NOTREAL"):
        from adapters.tiktok_signing import request_sign
        from tests.conftest import load_fixture
        self._sign = request_sign
        self.app_key, self.app_secret = app_key, app_secret
        samples = load_fixture("tiktok_samples.json")
        order = samples["tiktok_get_order_detail_response"]["data"]["orders"][0]
        self.orders: dict[str, dict] = {order["id"]: copy.deepcopy(order)}
        self.refresh_answer = copy.deepcopy(samples["tiktok_refresh_token_response"])
        self.valid_tokens = {"TTP_fake_new_access_token_NOT_REAL"}
        self.refreshes: list[dict] = []
        self.requests: list[tuple[str, dict]] = []
        rsps.add_callback("GET", re.compile(re.escape(TIKTOK_API + "/api/v2/token/refresh") + r"\?.*"),
                          callback=self._refresh)
        rsps.add_callback("GET", re.compile(re.escape(TIKTOK_API + "/order/202309/orders") + r"\?.*"),
                          callback=self._order_detail)
        rsps.add_callback("POST", re.compile(re.escape(TIKTOK_API + "/order/202309/orders/search") + r"\?.*"),
                          callback=self._order_list)
        rsps.add_callback("GET", re.compile(re.escape(TIKTOK_API + "/logistics/202309/delivery_options/") + r".*"),
                          callback=self._providers)
        rsps.add_callback("POST", re.compile(re.escape(TIKTOK_API + "/fulfillment/202309/orders/") + r".*"),
                          callback=self._mark_shipped)
        self.providers = samples["tiktok_get_shipping_providers_response"]["data"]["shipping_providers"]
        self.shipped: list[dict] = []
        self.lose_next_ship_answer = 0  # the package is marked shipped, then the answer is lost
        # Catalog: sku id → {product_id, warehouses {id: available}, price, currency, live}.
        self.skus: dict[str, dict] = {}
        self.inventory_updates: list[tuple[str, dict]] = []
        self.price_updates: list[tuple[str, dict]] = []
        self.refused_products: dict[str, int] = {}  # product id → the code every product call answers
        rsps.add_callback("POST", re.compile(re.escape(TIKTOK_API + "/product/202309/inventory/search") + r"\?.*"),
                          callback=self._inventory_search)
        rsps.add_callback("POST", re.compile(re.escape(TIKTOK_API + "/product/202309/products/") + r"\d+/"
                                             r"(inventory|prices)/update\?.*"), callback=self._product_update)
        rsps.add_callback("GET", re.compile(re.escape(TIKTOK_API + "/product/202309/products/") + r"\d+\?.*"),
                          callback=self._get_product)

    def _refresh(self, request):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.refreshes.append(query)
        assert query["grant_type"] == "refresh_token" and query["app_secret"] == self.app_secret
        return 200, {}, json.dumps(self.refresh_answer)

    def _checked(self, request):
        parts = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append((parts.path, query))
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        if query.get("sign") != self._sign(app_secret=self.app_secret, path=parts.path, query=query, body=body):
            return None, {"code": 106001, "message": "invalid sign", "data": {}}
        if request.headers.get("x-tts-access-token") not in self.valid_tokens:
            return None, {"code": 105002, "message": "access token expired", "data": {}}
        return query, json.loads(body) if body else {}

    def _providers(self, request):
        query, body = self._checked(request)
        if query is None:
            return 200, {}, json.dumps(body)
        return 200, {}, json.dumps({"code": 0, "message": "Success", "data": {"shipping_providers": self.providers}})

    def _mark_shipped(self, request):
        query, body = self._checked(request)
        if query is None:
            return 200, {}, json.dumps(body)
        order_id = urlsplit(request.url).path.split("/")[4]
        order = self.orders[order_id]
        for item in order["line_items"]:
            if item["id"] in body["order_line_item_ids"]:
                if item.get("tracking_number"):
                    return 200, {}, json.dumps({"code": 21011026, "message": "package already shipped", "data": {}})
                item.update(tracking_number=body["tracking_number"], shipping_provider_id=body["shipping_provider_id"],
                            display_status="IN_TRANSIT")
        self.shipped.append(dict(body, order_id=order_id))
        if self.lose_next_ship_answer:
            self.lose_next_ship_answer -= 1
            raise requests.exceptions.ReadTimeout("read timed out")
        return 200, {}, json.dumps({"code": 0, "message": "Success", "data": {
            "order_id": order_id, "order_line_item_ids": body["order_line_item_ids"],
            "package_id": order["packages"][0]["id"]}})

    def add_sku(self, sku_id: str, *, product_id: str, warehouses: dict, price="19.99", currency="USD",
                live=True):
        self.skus[sku_id] = {"product_id": product_id, "warehouses": dict(warehouses), "price": price,
                             "currency": currency, "live": live}

    def _inventory_search(self, request):
        query, body = self._checked(request)
        if query is None:
            return 200, {}, json.dumps(body)
        assert len(body["sku_ids"]) <= 600
        products: dict[str, list] = {}
        for sku_id in body["sku_ids"]:
            sku = self.skus.get(sku_id)
            if sku:
                products.setdefault(sku["product_id"], []).append({
                    "id": sku_id, "seller_sku": f"SELLER-{sku_id[-4:]}",
                    "total_available_quantity": sum(sku["warehouses"].values()), "total_committed_quantity": 0,
                    "warehouse_inventory": [{"warehouse_id": w, "available_quantity": q, "committed_quantity": 0}
                                            for w, q in sku["warehouses"].items()]})
        return 200, {}, json.dumps({"code": 0, "message": "Success", "data": {"inventory": [
            {"product_id": pid, "skus": skus} for pid, skus in products.items()]}})

    def _get_product(self, request):
        query, body = self._checked(request)
        if query is None:
            return 200, {}, json.dumps(body)
        product_id = urlsplit(request.url).path.rsplit("/", 1)[1]
        if product_id in self.refused_products:
            return 200, {}, json.dumps({"code": self.refused_products[product_id], "message": "product is frozen",
                                        "data": {}})
        skus = [{"id": sid, "price": {"tax_exclusive_price": s["price"], "sale_price": s["price"],
                                      "currency": s["currency"]},
                 "inventory": [{"warehouse_id": w, "quantity": q} for w, q in s["warehouses"].items()]}
                for sid, s in self.skus.items() if s["product_id"] == product_id]
        return 200, {}, json.dumps({"code": 0, "message": "Success", "data": {"id": product_id, "skus": skus}})

    def _product_update(self, request):
        query, body = self._checked(request)
        if query is None:
            return 200, {}, json.dumps(body)
        parts = urlsplit(request.url).path.split("/")
        product_id, what = parts[4], parts[5]
        (self.inventory_updates if what == "inventory" else self.price_updates).append((product_id, body))
        if product_id in self.refused_products:
            return 200, {}, json.dumps({"code": self.refused_products[product_id], "message": "product is frozen",
                                        "data": {}})
        errors = []
        for item in body["skus"]:
            sku = self.skus.get(item["id"])
            if sku is None or sku["product_id"] != product_id or not sku["live"]:
                errors.append({"code": 12052048, "message": "sku is not live",
                               "detail": {"sku_id": item["id"], "extra_errors": []}})
            elif what == "inventory":
                for entry in item["inventory"]:
                    assert 0 <= entry["quantity"] < 99999
                    sku["warehouses"][entry.get("warehouse_id") or next(iter(sku["warehouses"]))] = entry["quantity"]
            else:
                sku["price"], sku["currency"] = item["price"]["amount"], item["price"]["currency"]
        if errors:
            return 200, {}, json.dumps({"code": 12052700, "message": "partial failure", "data": {"errors": errors}})
        return 200, {}, json.dumps({"code": 0, "message": "Success", "data": {}})

    def _order_list(self, request):
        query, body = self._checked(request)
        if query is None:
            return 200, {}, json.dumps(body)
        hits = sorted((o for o in self.orders.values()
                       if body["update_time_ge"] <= o["update_time"] < body["update_time_lt"]),
                      key=lambda o: o["update_time"])
        start = int(query.get("page_token") or 0)
        size = int(query["page_size"])
        page = hits[start:start + size]
        token = str(start + size) if start + size < len(hits) else ""
        return 200, {}, json.dumps({"code": 0, "message": "Success", "data": {
            "orders": copy.deepcopy(page), "next_page_token": token, "total_count": len(hits)}})

    def _order_detail(self, request):
        query, body = self._checked(request)
        if query is None:
            return 200, {}, json.dumps(body)
        orders = [copy.deepcopy(self.orders[i]) for i in query["ids"].split(",") if i in self.orders]
        return 200, {}, json.dumps({"code": 0, "message": "Success", "data": {"orders": orders}})
