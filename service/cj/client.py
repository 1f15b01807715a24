"""CJ Open API 2.0 client: envelope handling, shared throttle, stored tokens, typed calls."""
from __future__ import annotations

from datetime import datetime, timedelta

import requests
from sqlalchemy.orm import Session, sessionmaker

from service.cj import account
from service.cj.errors import (AUTH, NOT_FOUND_CODES, POINTS_EXHAUSTED, QUOTA_USED_UP, RATE_LIMITED, CjApiError,
                               CjTransportError)
from service.config import Settings
from service.storage.credential_box import CredentialBox
from service.storage.database import transaction
from service.jobs.outcomes import RetryLater
from service.outbound_http import OutboundHttp
from service.timeutil import utcnow


# Daily points each metered endpoint costs (cj-api.md §2); order, payment, tracking and auth calls cost none.
POINT_COSTS = {"freightCalculate": 10, "variantQuery": 10, "stockQueryByVid": 10, "variantQueryByVid": 10,
               "productSubscribe": 10, "productUnsubscribe": 10}


# A token CJ rejects is dropped at once (the call is retried with a fresh one), so keeping it in the process
# for a while costs nothing; the bound keeps a token another worker renewed from being used for long.
TOKEN_CACHE = timedelta(minutes=10)


class CjClient:
    def __init__(self, *, settings: Settings, session_factory: sessionmaker[Session], http: OutboundHttp,
                 sleep=None):
        self.settings = settings
        self.session_factory = session_factory
        self.http = http
        self.box = CredentialBox(settings.secret_key)
        self._sleep = sleep
        self._token: tuple[str, datetime] | None = None  # (access token, use until) for this process

    # -- transport -----------------------------------------------------------------------------
    def _send(self, method: str, path: str, *, operation: str, token: str | None, params=None, json=None):
        # A 0-point call (orders, payment, tracking) is never held back by a used-up points budget.
        budgets = (operation, POINTS_EXHAUSTED) if operation in POINT_COSTS else (operation,)
        kwargs = {"sleep": self._sleep} if self._sleep else {}
        try:
            account.reserve_request_slot(self.session_factory, self.settings.cj_qps, budgets=budgets,
                                         points=POINT_COSTS.get(operation, 0), **kwargs)
        except account.BudgetUsedUp as used_up:
            # Nothing is sent: CJ would only refuse it again until its daily reset.
            raise CjApiError(code=429 if operation in POINT_COSTS else QUOTA_USED_UP, http_status=0,
                             message=f"CJ's daily budget for {operation} is used up until "
                                     f"{used_up.until:%Y-%m-%d %H:%M} UTC", request_id=None, operation=operation,
                             wait_seconds=max(1.0, (used_up.until - utcnow()).total_seconds())) from None
        headers = {"Content-Type": "application/json"}
        if token:
            headers["CJ-Access-Token"] = token
        try:
            response = self.http.request(method, self.settings.cj_api_base_url + path, service="cj",
                                         operation=operation, params=params, json=json, headers=headers)
        except requests.RequestException as exc:
            raise CjTransportError(f"CJ {operation}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = None  # CJ's examples include malformed bodies: anything but an object is "no envelope"
        code = body.get("code") if body else None
        # Official success rule: HTTP 200 and (code == 200 or no code at all).
        if response.status_code == 200 and body is not None and code in (None, 200):
            return body.get("data")
        if body is None and (response.status_code >= 500 or response.status_code == 200):
            # No envelope to read: we cannot tell whether CJ acted on the request.
            raise CjTransportError(f"CJ {operation}: HTTP {response.status_code} without a JSON envelope")
        error = CjApiError(code=code if isinstance(code, int) else None,
                           message=str((body or {}).get("message") or response.text[:200]),
                           http_status=response.status_code,
                           request_id=(body or {}).get("requestId"), operation=operation)
        if error.category == RATE_LIMITED:
            if error.budget is None:
                account.push_back_requests(self.session_factory, error.retry_after or 2.0)
            else:
                until = account.mark_exhausted(self.session_factory, error.budget)
                error = CjApiError(code=error.code, message=error.cj_message, http_status=error.http_status,
                                   request_id=error.request_id, operation=operation,
                                   wait_seconds=max(1.0, (until - utcnow()).total_seconds()))
        raise error

    def _call(self, method: str, path: str, *, operation: str, params=None, json=None):
        token = self._access_token()
        try:
            return self._send(method, path, operation=operation, token=token, params=params, json=json)
        except CjApiError as exc:
            if exc.category != AUTH:
                raise
        # The stored token was rejected (expired early or revoked): renew once and retry.
        self._invalidate_access_token(token)
        return self._send(method, path, operation=operation, token=self._access_token(), params=params,
                          json=json)

    # -- tokens ----------------------------------------------------------------------------------
    def _access_token(self) -> str:
        """A valid access token: stored, else refreshed, else a new login (at most once per 5 minutes).

        No HTTP call is made while the account row is locked: the throttle needs that row too.
        """
        if not self.settings.cj_api_key:
            raise CjApiError(code=1600002, message="CJ_API_KEY is not set", http_status=0, request_id=None,
                             operation="authenticate")
        now = utcnow()
        cached = self._token
        if cached is not None and cached[1] > now:
            return cached[0]
        with transaction(self.session_factory) as session:
            tokens = account.StoredTokens(account.locked_account(session), self.box)
        if tokens.access_valid(now):
            self._remember(tokens.access_token, tokens.access_expires_at)
            return tokens.access_token
        if tokens.refresh_valid(now):
            try:
                data = self._send("POST", "/authentication/refreshAccessToken", operation="refreshAccessToken",
                                  token=None, json={"refreshToken": tokens.refresh_token})
            except CjApiError as exc:
                if exc.category == RATE_LIMITED:
                    raise
                with transaction(self.session_factory) as session:
                    row = account.locked_account(session)
                    if self.box.open(row.refresh_token_enc) == tokens.refresh_token:
                        row.refresh_token_enc = None  # refused: the next step is a new login
            else:
                self._save_tokens(data)
                return str(data["accessToken"])
        with transaction(self.session_factory) as session:
            row = account.locked_account(session)
            current = account.StoredTokens(row, self.box)
            if current.access_valid(utcnow()):
                return current.access_token  # another worker logged in meanwhile
            if row.last_get_token_at and now - row.last_get_token_at < account.GET_TOKEN_MIN_INTERVAL:
                if now - row.last_get_token_at < account.LOGIN_IN_PROGRESS:
                    # Another worker is logging in right now: its token will be stored in a moment.
                    raise RetryLater("another worker is fetching the CJ access token", retry_after=2.0,
                                     count_attempt=False)
                wait = (row.last_get_token_at + account.GET_TOKEN_MIN_INTERVAL - now).total_seconds()
                raise RetryLater("CJ getAccessToken is allowed once per 5 minutes", retry_after=wait + 1,
                                 count_attempt=False)
            # Committed before the call, so the 5-minute guard holds even if the call fails.
            row.last_get_token_at = now
        data = self._send("POST", "/authentication/getAccessToken", operation="getAccessToken", token=None,
                          json={"apiKey": self.settings.cj_api_key})
        self._save_tokens(data)
        return str(data["accessToken"])

    def _save_tokens(self, data: dict) -> None:
        with transaction(self.session_factory) as session:
            row = account.locked_account(session)
            account.store_tokens(row, self.box, data)
            self._remember(str(data["accessToken"]), row.access_expires_at)

    def _remember(self, token: str, expires_at) -> None:
        """Keep the token in this process until shortly before it expires (reading it from the locked account
        row before every call made the calls of all workers queue on that row, bench/drain.py)."""
        horizon = utcnow() + TOKEN_CACHE
        until = horizon if expires_at is None else min(horizon, expires_at - account.TOKEN_SAFETY_MARGIN)
        self._token = (token, until)

    def _invalidate_access_token(self, token: str) -> None:
        self._token = None
        with transaction(self.session_factory) as session:
            row = account.locked_account(session)
            if self.box.open(row.access_token_enc) == token:
                row.access_token_enc = None
                row.access_expires_at = None

    # -- API calls ---------------------------------------------------------------------------------
    def query_variants_by_sku(self, variant_sku: str) -> list[dict]:
        data = self._call("GET", "/product/variant/query", operation="variantQuery",
                          params={"variantSku": variant_sku})
        return data if isinstance(data, list) else []

    def freight_calculate(self, *, start_country: str, end_country: str, zip_code: str | None,
                          products: list[dict]) -> list[dict]:
        body = {"startCountryCode": start_country, "endCountryCode": end_country, "products": products}
        if zip_code:
            body["zip"] = zip_code
        data = self._call("POST", "/logistic/freightCalculate", operation="freightCalculate", json=body)
        return data if isinstance(data, list) else []

    def create_order_v2(self, body: dict) -> dict:
        return self._call("POST", "/shopping/order/createOrderV2", operation="createOrderV2", json=body) or {}

    def list_orders(self, cj_order_ids: list[str]) -> list[dict]:
        """Up to 100 orders by CJ order id in one call (0 points): the batched read behind CJ's webhooks."""
        data = self._call("GET", "/shopping/order/list", operation="orderList",
                          params={"orderIds": list(cj_order_ids), "pageNum": 1, "pageSize": max(1, len(cj_order_ids))})
        rows = (data or {}).get("list") if isinstance(data, dict) else None
        return [r for r in rows or [] if isinstance(r, dict)]

    def list_orders_by_status(self, *, status: str, page: int, page_size: int) -> dict:
        """One page of CJ's order list in one status (0 points): {total, list[]}; CJ has no date filter."""
        data = self._call("GET", "/shopping/order/list", operation="orderList",
                          params={"status": status, "pageNum": page, "pageSize": page_size})
        data = data if isinstance(data, dict) else {}
        return {"total": data.get("total"), "list": [r for r in data.get("list") or [] if isinstance(r, dict)]}

    def set_webhooks(self, callback_url: str, *, catalog: bool = True) -> object:
        """Point CJ's order and logistics topics at callback_url, and its product and stock topics too while
        stock sync is on (they fire only for the products subscribed to)."""
        topic = {"type": "ENABLE", "callbackUrls": [callback_url]}
        off = {"type": "CANCEL", "callbackUrls": []}
        return self._call("POST", "/webhook/set", operation="webhookSet",
                          json={"product": topic if catalog else off, "stock": topic if catalog else off,
                                "order": topic, "logistics": topic})

    def query_stock(self, vid: str) -> list[dict]:
        """CJ's stock of one variant, per warehouse (10 points)."""
        data = self._call("GET", "/product/stock/queryByVid", operation="stockQueryByVid", params={"vid": vid})
        return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []

    def query_variant(self, vid: str) -> dict:
        """One variant by vid: its pid, variantSku and variantSellPrice (USD) among others (10 points)."""
        data = self._call("GET", "/product/variant/queryByVid", operation="variantQueryByVid", params={"vid": vid})
        return data if isinstance(data, dict) else {}

    def subscribe_products(self, pids: list[str]) -> object:
        """CJ's PRODUCT, VARIANT and STOCK messages for these products (at most 100 a call; 10 points)."""
        return self._call("POST", "/webhook/product/subscribe", operation="productSubscribe",
                          json={"productIds": list(pids)})

    def unsubscribe_products(self, pids: list[str]) -> object:
        return self._call("POST", "/webhook/product/unsubscribe", operation="productUnsubscribe",
                          json={"productIds": list(pids)})

    def account_settings(self) -> dict:
        """The account's own limits: qpsLimit and quotaLimits (GET /setting/get, 0 points)."""
        data = self._call("GET", "/setting/get", operation="settingGet")
        return data if isinstance(data, dict) else {}

    def get_balance(self) -> dict:
        """The wallet: amount, noWithdrawalAmount (bonus) and freezeAmount, in USD (GET /shopping/pay/getBalance)."""
        data = self._call("GET", "/shopping/pay/getBalance", operation="getBalance")
        return data if isinstance(data, dict) else {}

    def get_order_detail(self, order_id: str) -> dict | None:
        """Look an order up by our orderNumber or CJ's order id; None when CJ has no such order."""
        try:
            return self._call("GET", "/shopping/order/getOrderDetail", operation="getOrderDetail",
                              params={"orderId": order_id}) or None
        except CjApiError as exc:
            if exc.code in NOT_FOUND_CODES:
                return None
            raise

    def confirm_order(self, cj_order_id: str):
        return self._call("PATCH", "/shopping/order/confirmOrder", operation="confirmOrder",
                          json={"orderId": cj_order_id})

    def pay_balance(self, cj_order_id: str):
        return self._call("POST", "/shopping/pay/payBalance", operation="payBalance", json={"orderId": cj_order_id})

    def delete_order(self, cj_order_id: str):
        return self._call("DELETE", "/shopping/order/deleteOrder", operation="deleteOrder",
                          params={"orderId": cj_order_id})
