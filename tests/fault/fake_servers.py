"""Local HTTP servers standing in for CJ and Shopify in fault-injection tests and benchmarks.

They run in a thread of the test process on 127.0.0.1 and enforce CJ's documented behaviour:
a per-account QPS limit answered with 1600200, 1603003 for a duplicate orderNumber, getAccessToken at
most once per 5 minutes, and a logisticName that must come from freightCalculate.
"""
from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import threading
import time
import uuid

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

FREIGHT = [
    {"logisticName": "CJPacket Ordinary", "logisticAging": "7-12", "logisticPrice": 4.71, "totalPostageFee": 4.71},
    {"logisticName": "USPS+", "logisticAging": "6-10", "logisticPrice": 6.05, "totalPostageFee": 6.05},
]


def envelope(data=None, code=200, message="Success"):
    return {"code": code, "result": code == 200, "message": message, "data": data,
            "requestId": uuid.uuid4().hex}


class ServerThread:
    """Serve a Flask app on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app: Flask):
        import logging
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class FakeCjServer:
    """CJ's API for one account, with fault knobs the test turns."""

    OPEN_ID = "1048576"
    API_KEY = "CJ1234567@api@0f1e2d3c4b5a69788796a5b4c3d2e1f0"

    def __init__(self, *, qps: float = 50.0, token_interval: float = 300.0):
        self.qps = qps
        self.token_interval = token_interval
        self.lock = threading.Lock()
        self.orders: dict[str, dict] = {}          # orderNumber → order
        self.create_attempts: collections.Counter = collections.Counter()
        self.duplicates_refused = 0
        self.paid_in_create = 0
        self.stock_reads = 0
        self.op_counts: collections.Counter = collections.Counter()  # API calls by operation
        self.payments = 0  # payBalance calls that paid
        self.rate_limited = 0
        self.token_logins: list[float] = []
        self.recent: collections.deque = collections.deque()
        self.valid_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.faults: collections.defaultdict = collections.defaultdict(list)  # operation → ["500", "timeout", …]
        self.before_create_reply = None  # callable(order) run after CJ stored the order, before it answers
        self.before_operation = None     # callable(operation) run on every API call
        self.create_times: dict[str, float] = {}
        self.request_times: list[float] = []  # wall-clock arrival of every API call
        self.next_id = 2509231418372749100
        self.app = self._build_app()

    # -- knobs -----------------------------------------------------------------------------------
    def invalidate_tokens(self) -> None:
        with self.lock:
            self.valid_tokens.clear()

    def ship(self, order_number: str) -> dict:
        with self.lock:
            order = self.orders[order_number]
            order["orderStatus"] = "SHIPPED"
            order["trackNumber"] = "CJPK" + hashlib.sha1(order_number.encode()).hexdigest()[:12].upper()
            return dict(order)

    @classmethod
    def logistic_message(cls, order: dict) -> tuple[bytes, dict]:
        body = {"messageId": uuid.uuid4().hex, "type": "LOGISTIC", "messageType": "UPDATE",
                "params": {"orderId": order["orderId"], "logisticName": order["logisticName"],
                           "trackingNumber": order["trackNumber"],
                           "trackingUrl": f"https://t.example/{order['trackNumber']}", "trackingStatus": 1}}
        raw = json.dumps(body, separators=(",", ":")).encode()
        sign = base64.b64encode(hmac.new(cls.OPEN_ID.encode(), raw, hashlib.sha256).digest()).decode()
        return raw, {"Content-Type": "application/json", "sign": sign}

    # -- behaviour -------------------------------------------------------------------------------
    def _rate_ok(self) -> bool:
        """At most `qps` requests in any one-second window, counted for the whole account."""
        now = time.monotonic()
        with self.lock:
            while self.recent and now - self.recent[0] >= 1.0:
                self.recent.popleft()
            if len(self.recent) >= self.qps:
                self.rate_limited += 1
                return False
            self.recent.append(now)
            return True

    def _fault(self, operation: str):
        with self.lock:
            queue = self.faults.get(operation)
            fault = queue.pop(0) if queue else None
        if fault == "500":
            return jsonify({"error": "internal"}), 500
        if fault == "timeout":
            time.sleep(3.0)  # longer than the client's HTTP_TIMEOUT in these tests
            return jsonify(envelope(None)), 200
        if fault == "busy":
            return jsonify(envelope(code=1600000, message="system busy")), 200
        return None

    def _build_app(self) -> Flask:
        app = Flask("fake-cj")
        fake = self

        def authorized():
            return request.headers.get("CJ-Access-Token") in fake.valid_tokens

        def new_tokens(open_id=True):
            access, refresh = uuid.uuid4().hex, uuid.uuid4().hex
            fake.valid_tokens.add(access)
            fake.refresh_tokens.add(refresh)
            data = {"accessToken": access, "accessTokenExpiryDate": "2099-01-01T00:00:00+08:00",
                    "refreshToken": refresh, "refreshTokenExpiryDate": "2099-06-01T00:00:00+08:00"}
            if open_id:
                data["openId"] = int(fake.OPEN_ID)
            return data

        @app.before_request
        def gate():
            if request.path.startswith("/_fake/"):
                return None  # the benchmark reading this fake's state (bench/remote_cj.py): not a CJ call
            op = request.path.rsplit("/", 1)[-1]
            fake.request_times.append(time.time())
            fake.op_counts[op] += 1
            if fake.before_operation:
                fake.before_operation(op)
            if not fake._rate_ok():
                return jsonify(envelope(code=1600200, message=f"Too Many Requests, QPS limit is {fake.qps} time/1second")), 200
            injected = fake._fault(op)
            if injected is not None:
                return injected
            if op not in ("getAccessToken", "refreshAccessToken") and not authorized():
                return jsonify(envelope(code=1600001, message="Invalid API key or access token")), 200
            return None

        @app.post("/api2.0/v1/authentication/getAccessToken")
        def get_access_token():
            if (request.get_json() or {}).get("apiKey") != fake.API_KEY:
                return jsonify(envelope(code=1600005, message="APIkey is wrong"))
            now = time.monotonic()
            with fake.lock:
                if fake.token_logins and now - fake.token_logins[-1] < fake.token_interval:
                    return jsonify(envelope(code=1600200, message="Too much request, QPS limit is 1 time/300 seconds")), 429
                fake.token_logins.append(now)
                return jsonify(envelope(new_tokens()))

        @app.post("/api2.0/v1/authentication/refreshAccessToken")
        def refresh_access_token():
            with fake.lock:
                token = (request.get_json() or {}).get("refreshToken")
                if token not in fake.refresh_tokens:
                    return jsonify(envelope(code=1600003, message="Refresh token is failure"))
                return jsonify(envelope(new_tokens(open_id=False)))

        @app.post("/api2.0/v1/logistic/freightCalculate")
        def freight():
            return jsonify(envelope(FREIGHT))

        @app.post("/api2.0/v1/shopping/order/createOrderV2")
        def create():
            body = request.get_json()
            number = body["orderNumber"]
            if body.get("logisticName") not in {f["logisticName"] for f in FREIGHT}:
                return jsonify(envelope(code=1605001, message="logistic invalid"))
            with fake.lock:
                fake.create_attempts[number] += 1
                if number in fake.orders:
                    fake.duplicates_refused += 1
                    return jsonify(envelope(code=1603003, message="Order exist, please do not duplicate create"))
                fake.next_id += 1
                order = {"orderId": str(fake.next_id), "orderNumber": number, "orderStatus": "CREATED",
                         "logisticName": body["logisticName"], "orderAmount": 18.31, "request": body}
                if body.get("payType") == 2:  # created, confirmed and paid in one call
                    order["orderStatus"] = "UNSHIPPED"
                    fake.paid_in_create += 1
                fake.orders[number] = order
                fake.create_times[number] = time.time()
            if fake.before_create_reply:
                fake.before_create_reply(order)
            return jsonify(envelope({"orderId": order["orderId"], "orderNumber": number,
                                     "orderStatus": order["orderStatus"], "orderAmount": 18.31}))

        def find(key):
            with fake.lock:
                return next((o for o in fake.orders.values() if key in (o["orderId"], o["orderNumber"])), None)

        @app.get("/api2.0/v1/shopping/order/getOrderDetail")
        def detail():
            order = find(request.args.get("orderId"))
            if order is None:
                return jsonify(envelope(code=1600300, message="order not found"))
            return jsonify(envelope({k: order.get(k) for k in (
                "orderId", "orderStatus", "logisticName", "trackNumber", "orderAmount")} | {
                "orderNum": order["orderNumber"], "trackingUrl": None}))

        @app.get("/api2.0/v1/product/stock/queryByVid")
        def stock():
            fake.stock_reads += 1
            return jsonify(envelope([{"areaEn": "China", "countryCode": "CN", "totalInventoryNum": 5000}]))

        @app.get("/api2.0/v1/setting/get")
        def setting():
            return jsonify(envelope({"setting": {"qpsLimit": fake.qps, "quotaLimits": []}}))

        @app.get("/api2.0/v1/shopping/order/list")
        def order_list():
            wanted = request.args.getlist("orderIds")
            with fake.lock:
                rows = [dict({k: o.get(k) for k in ("orderId", "orderStatus", "logisticName", "trackNumber",
                                                     "orderAmount")}, orderNum=o["orderNumber"], trackingUrl=None)
                        for o in fake.orders.values() if o["orderId"] in wanted]
            return jsonify(envelope({"pageNum": 1, "pageSize": len(wanted), "total": len(rows), "list": rows}))

        @app.patch("/api2.0/v1/shopping/order/confirmOrder")
        def confirm():
            order = find((request.get_json() or {}).get("orderId"))
            if order is None:
                return jsonify(envelope(code=1603100, message="order not found"))
            with fake.lock:
                if order["orderStatus"] == "CREATED":
                    order["orderStatus"] = "UNPAID"
            return jsonify(envelope(order["orderId"]))

        @app.post("/api2.0/v1/shopping/pay/payBalance")
        def pay():
            order = find((request.get_json() or {}).get("orderId"))
            if order is None:
                return jsonify(envelope(code=1603100, message="order not found"))
            with fake.lock:
                if order["orderStatus"] in ("UNSHIPPED", "SHIPPED", "DELIVERED"):
                    return jsonify(envelope(code=1603101, message="order already paid"))
                order["orderStatus"] = "UNSHIPPED"
                fake.payments += 1
            return jsonify(envelope(None))

        return app


class FakeShopifyServer:
    """GraphQL Admin API for any order the test announced: one open fulfillment order per order."""

    TOKEN = "shpat_EXAMPLE_NOT_REAL"

    def __init__(self):
        self.lock = threading.Lock()
        self.orders: dict[str, dict] = {}        # order gid → {"lines": [(line gid, qty)], "remaining": {...}}
        self.fulfillments: dict[str, list] = collections.defaultdict(list)
        self.write_times: dict[str, float] = {}
        self.app = self._build_app()

    def announce(self, order_body: dict) -> None:
        gid = order_body["admin_graphql_api_id"]
        with self.lock:
            self.orders[gid] = {"lines": [(li["admin_graphql_api_id"], li["quantity"]) for li in order_body["line_items"]],
                                "remaining": {li["admin_graphql_api_id"]: li["quantity"] for li in order_body["line_items"]}}

    def _build_app(self) -> Flask:
        app = Flask("fake-shopify")
        fake = self

        @app.post("/admin/api/<version>/graphql.json")
        def graphql(version):
            if request.headers.get("X-Shopify-Access-Token") != fake.TOKEN:
                return jsonify({"errors": "[API] Invalid API key or access token"}), 401
            body = request.get_json()
            query, variables = body["query"], body.get("variables") or {}
            if "fulfillmentCreate(" in query:
                f_input = variables["fulfillment"]
                group = f_input["lineItemsByFulfillmentOrder"][0]
                order_gid = group["fulfillmentOrderId"].replace("FulfillmentOrder", "Order")
                with fake.lock:
                    order = fake.orders[order_gid]
                    for item in group["fulfillmentOrderLineItems"]:
                        line_gid = item["id"].replace("FulfillmentOrderLineItem", "LineItem")
                        if item["quantity"] > order["remaining"][line_gid]:
                            return jsonify({"data": {"fulfillmentCreate": {"fulfillment": None, "userErrors": [
                                {"field": ["fulfillment"], "message": "quantity exceeds remaining"}]}}})
                        order["remaining"][line_gid] -= item["quantity"]
                    fid = f"gid://shopify/Fulfillment/{uuid.uuid4().int % 10**12}"
                    fulfillment = {"id": fid, "status": "SUCCESS", "trackingInfo": [f_input["trackingInfo"]],
                                   "fulfillmentLineItems": {"nodes": [
                                       {"quantity": item["quantity"], "lineItem": {
                                           "id": item["id"].replace("FulfillmentOrderLineItem", "LineItem")}}
                                       for item in group["fulfillmentOrderLineItems"]]}}
                    fake.fulfillments[order_gid].append(fulfillment)
                    fake.write_times[order_gid] = time.time()
                return jsonify({"data": {"fulfillmentCreate": {"fulfillment": fulfillment, "userErrors": []}}})
            order_gid = variables["orderId"]
            with fake.lock:
                order = fake.orders.get(order_gid)
                if order is None:
                    return jsonify({"data": {"order": None}})
                fo_id = order_gid.replace("Order", "FulfillmentOrder")
                nodes = [{"id": gid.replace("LineItem", "FulfillmentOrderLineItem"), "sku": "", "totalQuantity": qty,
                          "remainingQuantity": order["remaining"][gid], "lineItem": {"id": gid, "sku": ""}}
                         for gid, qty in order["lines"]]
                return jsonify({"data": {"order": {
                    "id": order_gid, "fulfillments": list(fake.fulfillments[order_gid]),
                    "fulfillmentOrders": {"nodes": [{
                        "id": fo_id, "status": "OPEN", "supportedActions": [{"action": "CREATE_FULFILLMENT"}],
                        "assignedLocation": {"location": {"id": "gid://shopify/Location/1"}},
                        "lineItems": {"nodes": nodes}}]}}}})

        return app


class FakeEbayServer:
    """eBay's OAuth token endpoint and Sell Fulfillment API for one seller, answering getOrders in small pages."""

    PAGE = 2

    def __init__(self):
        self.lock = threading.Lock()
        self.orders: dict[str, dict] = {}
        self.fulfillments: dict[str, list] = collections.defaultdict(list)
        self.tokens: set[str] = set()
        self.pages_served = 0
        self.before_orders_page = None  # hook(offset) called before a getOrders page is answered
        self.app = self._build_app()

    def _build_app(self) -> Flask:
        app = Flask("fake-ebay")
        fake = self

        @app.post("/identity/v1/oauth2/token")
        def token():
            assert request.headers.get("Authorization", "").startswith("Basic ")
            value = f"v^1.1#i^1#FAULT_{uuid.uuid4().hex}"
            with fake.lock:
                fake.tokens.add(value)
            return jsonify({"access_token": value, "expires_in": 7200})

        def authorized() -> bool:
            return request.headers.get("Authorization", "").removeprefix("Bearer ") in fake.tokens

        @app.get("/sell/fulfillment/v1/order")
        def orders():
            if not authorized():
                return jsonify({"errors": [{"errorId": 1001}]}), 401
            start, end = request.args["filter"].removeprefix("lastmodifieddate:[").removesuffix("]").split("..")
            offset = int(request.args.get("offset", 0))
            if fake.before_orders_page:
                fake.before_orders_page(offset)
            with fake.lock:
                hits = sorted((o for o in fake.orders.values() if start <= o["lastModifiedDate"] <= end),
                              key=lambda o: o["lastModifiedDate"])
                fake.pages_served += 1
            page = hits[offset:offset + fake.PAGE]
            more = offset + fake.PAGE < len(hits)
            return jsonify({"total": len(hits), "offset": offset, "limit": fake.PAGE, "orders": page,
                            "next": f"{request.base_url}?offset={offset + fake.PAGE}" if more else None})

        @app.get("/sell/fulfillment/v1/order/<order_id>")
        def one_order(order_id):
            if not authorized():
                return jsonify({"errors": [{"errorId": 1001}]}), 401
            with fake.lock:
                order = fake.orders.get(order_id)
            return (jsonify(order), 200) if order else (jsonify({"errors": [{"errorId": 32100}]}), 404)

        @app.route("/sell/fulfillment/v1/order/<order_id>/shipping_fulfillment", methods=["GET", "POST"])
        def shipping(order_id):
            if not authorized():
                return jsonify({"errors": [{"errorId": 1001}]}), 401
            with fake.lock:
                items = fake.fulfillments[order_id]
                if request.method == "GET":
                    return jsonify({"total": len(items), "fulfillments": list(items)})
                body = request.get_json()
                items.append({"fulfillmentId": f"F{len(items) + 1}", "lineItems": body["lineItems"],
                              "shipmentTrackingNumber": body.get("trackingNumber")})
                return "{}", 201, {"Location": f"{request.base_url}/F{len(items)}"}

        return app


class FakeTikTokServer:
    """TikTok Shop's token refresh and order API for one shop, each call's sign checked (adapters/tiktok_signing)."""

    def __init__(self, *, app_key: str, app_secret: str, orders: dict[str, dict]):
        from adapters.tiktok_signing import request_sign
        self.sign = request_sign
        self.app_key, self.app_secret = app_key, app_secret
        self.lock = threading.Lock()
        self.orders = orders
        self.tokens: set[str] = set()
        self.detail_reads = 0
        self.app = self._build_app()

    def _build_app(self) -> Flask:
        app = Flask("fake-tiktok")
        fake = self

        @app.get("/api/v2/token/refresh")
        def refresh():
            assert request.args["app_secret"] == fake.app_secret
            token = f"TTP_FAULT_{uuid.uuid4().hex}"
            with fake.lock:
                fake.tokens.add(token)
            return jsonify({"code": 0, "message": "success", "data": {
                "access_token": token, "access_token_expire_in": int(time.time()) + 7 * 86400,
                "refresh_token": "TTP_fault_refresh", "refresh_token_expire_in": int(time.time()) + 365 * 86400}})

        def refused():
            query = request.args.to_dict()
            if query.get("sign") != fake.sign(app_secret=fake.app_secret, path=request.path, query=query,
                                              body=request.get_data()):
                return jsonify({"code": 106001, "message": "invalid sign", "data": {}})
            if request.headers.get("x-tts-access-token") not in fake.tokens:
                return jsonify({"code": 105002, "message": "access token expired", "data": {}})
            return None

        @app.get("/order/202309/orders")
        def detail():
            answer = refused()
            if answer is not None:
                return answer
            with fake.lock:
                fake.detail_reads += 1
                orders = [fake.orders[i] for i in request.args["ids"].split(",") if i in fake.orders]
            return jsonify({"code": 0, "message": "Success", "data": {"orders": orders}})

        @app.post("/order/202309/orders/search")
        def search():
            answer = refused()
            if answer is not None:
                return answer
            window = request.get_json()
            with fake.lock:
                hits = [o for o in fake.orders.values()
                        if window["update_time_ge"] <= o["update_time"] < window["update_time_lt"]]
            return jsonify({"code": 0, "message": "Success", "data": {"orders": hits, "next_page_token": ""}})

        return app
