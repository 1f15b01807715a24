"""TikTok Shop: signed webhooks naming an order, signed API calls (orders, polling, shipping), tokens by refresh.

TikTok's order webhooks carry ids and a status only, so every order is read whole with Get Order Detail
(ORDER_CHANGED_EVENT). A store is a shop: its domain is the shop id, its credentials the app key and secret
(client_id, client_secret), the seller's refresh token and the shop_cipher; its webhook secret is
"<app key>:<app secret>" (TikTok signs webhooks with both, and one app serves many shops: the body's shop_id
must be the store's). Only AWAITING_SHIPMENT (or a partly shipped order) is paid to us: UNPAID and ON_HOLD
may still be cancelled freely, and an order already in transit was shipped by someone else.
"""
from __future__ import annotations

import calendar
import json
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Mapping

from adapters import tiktok_stock
from adapters.base import (IGNORED_EVENT, ORDER_CHANGED_EVENT, ORDER_EVENT, UNINSTALL_EVENT, DeliveryInfo,
                           NotSupported, PrivacyRequest, ShipmentToWrite, StockResult, StockTarget, StoreContext,
                           WriteBackResult, call_store_api, json_object, optional_int, order_version_key)
from adapters.tiktok_signing import request_sign, webhook_signed
from service.canonical import validate_canonical
from service.config import carrier_key
from service.jobs.outcomes import NeedsHuman, RetryLater

API_BASE = "https://open-api.tiktokglobalshop.com"
AUTH_BASE = "https://auth.tiktok-shops.com"
# Webhook types (TikTok's `type`) whose order is read again from the API.
ORDER_TYPES = {1: "ORDER_STATUS_CHANGE", 3: "RECIPIENT_ADDRESS_UPDATE", 11: "CANCELLATION_STATUS_CHANGE"}
DEAUTHORIZED_TYPE = 6
FORWARDABLE = ("AWAITING_SHIPMENT", "PARTIALLY_SHIPPING")
CANCELLED = ("CANCELLED", "CANCEL")  # the API's spelling and the webhook's
# API codes: token expired or invalid → a fresh token, once; rate limited → wait.
TOKEN_CODES = {105002, 105001, 36009004}
RATE_CODES = {36009002}
MAX_POLL_PAGES = 1000  # 100,000 changed orders in one poll window: something else is wrong


class TikTokShopAdapter:
    platform = "tiktok_shop"
    cj_platform = "tiktok"
    can_register_webhooks = False  # set in Partner Center (URL and topics), see the README
    domain_is_platform_host = True  # the store is a shop id; its API is TikTok's own host
    supports_polling = True  # Get Order List by update time: TikTok says its webhooks are not enough alone
    poll_topic = "order_detail"  # a whole order (polled, or read after a notification)
    orders_by_polling = False
    can_set_stock = True  # Inventory Search, then Update Inventory per product (adapters/tiktok_stock.py)
    empty_acknowledgement = True  # TikTok wants 200 with an empty body

    # -- intake -----------------------------------------------------------------------------------
    def identify(self, headers: Mapping[str, str], raw_body: bytes = b"") -> DeliveryInfo:
        """The shop and topic are in the body (the headers carry only the signature)."""
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        kind = body.get("type")
        return DeliveryInfo(store_domain=str(body["shop_id"]) if body.get("shop_id") else None,
                            topic=str(kind) if kind is not None else "",
                            delivery_id=str(body["tts_notification_id"]) if body.get("tts_notification_id")
                            else None)

    def unsigned_delivery_topic(self, raw_body: bytes, headers: Mapping[str, str]) -> str | None:
        return None

    def normalize_domain(self, value: str) -> str:
        shop = str(value or "").strip()
        if not shop.isdigit() or len(shop) > 32:
            raise ValueError("a TikTok Shop store is its shop id (digits, from Get Authorized Shops)")
        return shop

    def verify(self, raw_body: bytes, headers: Mapping[str, str], secrets: list[str]) -> bool:
        matched = False
        for secret in secrets:
            app_key, _, app_secret = (secret or "").partition(":")
            matched |= webhook_signed(raw_body, headers.get("Authorization"), app_key, app_secret)
        return matched

    def webhook_secret_from(self, credentials: dict) -> str | None:
        """What verifies this store's webhooks, made from its app key and secret."""
        if credentials.get("client_id") and credentials.get("client_secret"):
            return f"{credentials['client_id']}:{credentials['client_secret']}"
        return None

    def delivery_keys(self, info: DeliveryInfo, headers: Mapping[str, str], payload) -> list[str]:
        data = payload.get("data") if isinstance(payload, dict) and isinstance(payload.get("data"), dict) else {}
        # The order state a status notification announces (order id + update time), as the poll names it: a
        # poll that finds it then knows a webhook brought it.
        version = [order_version_key(f"{data['order_id']}:{data['update_time']}", info.topic)] \
            if data.get("order_id") and data.get("update_time") else []
        if info.delivery_id:
            return [f"notification:{info.delivery_id}", *version]
        # Some topics come without a notification id: the same type, order and time is the same delivery.
        when = data.get("update_time") or data.get("create_time")
        sent = payload.get("timestamp") if isinstance(payload, dict) else ""
        return [*version, f"content:{info.topic}:{data.get('order_id')}:{when}:{sent}"]

    def event_kind(self, topic: str) -> str:
        if topic == self.poll_topic:
            return ORDER_EVENT
        try:
            kind = int(topic)
        except ValueError:
            return IGNORED_EVENT
        if kind in ORDER_TYPES:
            return ORDER_CHANGED_EVENT
        if kind == DEAUTHORIZED_TYPE:
            return UNINSTALL_EVENT
        return IGNORED_EVENT

    def named_shop(self, payload) -> str | None:
        return str(payload.get("shop_id")) if isinstance(payload, dict) and payload.get("shop_id") else None

    def signed_time(self, payload) -> datetime | None:
        try:
            return datetime.fromtimestamp(int(payload["timestamp"]), tz=timezone.utc).replace(tzinfo=None)
        except (KeyError, TypeError, ValueError):
            return None

    def privacy_request(self, topic: str, payload: dict) -> PrivacyRequest:
        raise NotSupported("TikTok Shop sends no privacy topics")

    def changed_order_id(self, payload: dict) -> str:
        data = payload.get("data") if isinstance(payload, dict) else None
        order_id = data.get("order_id") if isinstance(data, dict) else None
        if not order_id:
            raise ValueError("the notification names no order_id")
        return str(order_id)

    def deleted_order_id(self, payload: dict) -> str:
        raise NotSupported("TikTok Shop orders are never deleted")

    def order_version(self, payload: dict) -> str:
        return f"{payload.get('id')}:{payload.get('update_time')}"

    # -- normalize ---------------------------------------------------------------------------------
    def normalize(self, payload: dict, *, topic: str) -> dict:
        """One Get Order Detail order → the canonical order; TikTok lists one line per unit: summed per SKU."""
        if not isinstance(payload, dict) or not payload.get("id"):
            raise ValueError("a TikTok Shop order is an object with an id")
        status = str(payload.get("status") or "").upper()
        payment = payload.get("payment") or {}
        lines: OrderedDict[str, dict] = OrderedDict()
        for item in payload.get("line_items") or []:
            if status not in CANCELLED and str(item.get("display_status") or "").upper() in CANCELLED:
                continue  # a unit cancelled on its own (a partial cancellation): not ours to ship
            key = str(item.get("sku_id") or item.get("seller_sku") or item.get("id"))
            line = lines.get(key)
            if line is None:
                lines[key] = line = {"line_id": key, "line_ref": str(item.get("id")), "variant_id": key,
                                     "product_id": _text(item.get("product_id")), "sku": _text(item.get("seller_sku")),
                                     "title": " ".join(p for p in (_text(item.get("product_name")),
                                                                   _text(item.get("sku_name"))) if p) or None,
                                     "quantity": 0, "unit_price": _text(item.get("sale_price")),
                                     "requires_shipping": True}
            else:
                line["line_ref"] += f",{item.get('id')}"  # every unit's line item id, for shipping them back
            line["quantity"] += 1
        address = payload.get("recipient_address") or {}
        levels = {str(d.get("address_level_name") or "").lower(): _text(d.get("address_name"))
                  for d in address.get("district_info") or [] if isinstance(d, dict)}
        line2 = " ".join(p for p in (_text(address.get("address_line2")), _text(address.get("address_line3")),
                                     _text(address.get("address_line4"))) if p) or None
        shipping = {
            "name": _text(address.get("name")), "first_name": _text(address.get("first_name")),
            "last_name": _text(address.get("last_name")), "company": None,
            "address1": _text(address.get("address_line1")), "address2": line2,
            "city": levels.get("city") or levels.get("district"), "province": levels.get("state")
            or levels.get("province") or levels.get("county"), "province_code": None,
            "zip": _text(address.get("postal_code")), "country": levels.get("country"),
            "country_code": _text(address.get("region_code")), "phone": _text(address.get("phone_number")),
            "email": None} if address else None
        on_hold = bool(payload.get("is_on_hold_order"))
        return validate_canonical({
            "platform": self.platform,
            "store_order_id": str(payload["id"]),
            "order_ref": None,
            "name": f"TikTok {payload['id']}",
            "currency": _text(payment.get("currency")),
            "total_price": _text(payment.get("total_amount")),
            "subtotal_price": _text(payment.get("sub_total")),
            "shipping_price": _text(payment.get("shipping_fee")),
            "financial_status": status.lower() or None,
            "paid": status in FORWARDABLE and not on_hold,
            "cancelled": status in CANCELLED,
            "test": False,
            "email": None,  # an anonymised relay address: not the customer's
            "note": _text(payload.get("buyer_message")),
            "customer_ref": _text(payload.get("user_id")),
            "lines": list(lines.values()),
            "shipping_address": shipping,
            "created_at": _unix(payload.get("create_time")),
            "updated_at": _unix(payload.get("update_time")) or _unix(payload.get("create_time")),
            "ship_by": _unix(payload.get("rts_sla_time")) if payload.get("rts_sla_time") else None,
        })

    # -- outbound ----------------------------------------------------------------------------------
    def fetch_order(self, *, http, store: StoreContext, store_order_id: str) -> dict:
        data = self._api(http, store, "GET", "/order/202309/orders", "getOrderDetail",
                         params={"ids": store_order_id})
        orders = [o for o in (data.get("orders") or []) if isinstance(o, dict) and str(o.get("id")) == store_order_id]
        if not orders:
            raise RetryLater(f"TikTok Shop getOrderDetail: order {store_order_id} not in the answer yet")
        return orders[0]

    def request_access_token(self, http, *, domain: str, api_base_url: str | None, credentials: dict):
        """A new access token from the seller's refresh token; TikTok may hand back a new refresh token too."""
        app_key, app_secret = credentials.get("client_id"), credentials.get("client_secret")
        refresh = credentials.get("refresh_token")
        if not (app_key and app_secret and refresh):
            raise NeedsHuman("store_credentials_missing", f"TikTok Shop store {domain} lacks client_id (app key), "
                             "client_secret (app secret) or refresh_token. Resolution: PATCH /admin/stores/<id> "
                             "with api_credentials {client_id, client_secret, refresh_token, shop_cipher}.")
        response = call_store_api(
            http, "GET", f"{(api_base_url or AUTH_BASE).rstrip('/')}/api/v2/token/refresh",
            platform="TikTok Shop", operation="refreshToken", default_retry_after=10.0,
            auth_resolution="check the app key and secret (PATCH /admin/stores/<id>), then retry.",
            params={"app_key": app_key, "app_secret": app_secret, "refresh_token": refresh,
                    "grant_type": "refresh_token"})
        body = json_object(response, platform="TikTok Shop", operation="refreshToken")
        if body.get("code") != 0:
            raise NeedsHuman("store_auth_failed", f"TikTok Shop refused the refresh token of shop {domain} (code "
                             f"{body.get('code')}). Resolution: have the seller authorize the app again, then "
                             "PATCH /admin/stores/<id> with the new refresh_token.")
        data = body.get("data") or {}
        try:
            token, expires_at = str(data["access_token"]), int(data["access_token_expire_in"])
        except (KeyError, TypeError, ValueError):
            raise RetryLater("TikTok Shop refreshToken: the answer holds no access token") from None
        # The expiry is an absolute Unix time, not a duration.
        lasts = max(60, expires_at - int(time.time()))
        kept = {"refresh_token": str(data["refresh_token"])} if data.get("refresh_token") else {}
        return token, lasts, kept

    def _api(self, http, store: StoreContext, method: str, path: str, operation: str, *, params=None,
             json_body=None, raw: bool = False) -> dict:
        """The answer's data; raw: the whole answer, whatever its code (a call that reports refusals per item)."""
        creds = store.credentials
        app_key, app_secret, cipher = creds.get("client_id"), creds.get("client_secret"), creds.get("shop_cipher")
        if not (app_key and app_secret and cipher) or store.token_source is None:
            raise NeedsHuman("store_credentials_missing", f"TikTok Shop store {store.domain} lacks its app key, app "
                             "secret, refresh token or shop_cipher. Resolution: PATCH /admin/stores/<id> with "
                             "api_credentials {client_id, client_secret, refresh_token, shop_cipher}.")
        body = json.dumps(json_body, separators=(",", ":")).encode() if json_body is not None else b""

        def send(token: str):
            query = dict(params or {}, app_key=app_key, shop_cipher=cipher, timestamp=int(time.time()))
            query["sign"] = request_sign(app_secret=app_secret, path=path, query=query, body=body)
            return call_store_api(
                http, method, f"{(store.api_base_url or API_BASE).rstrip('/')}{path}", platform="TikTok Shop",
                operation=operation, default_retry_after=5.0, params=query, data=body or None,
                auth_resolution="check the app's scopes and the seller's authorization, then retry.",
                headers={"x-tts-access-token": token, "content-type": "application/json"})
        token = store.token_source()
        answer = json_object(send(token), platform="TikTok Shop", operation=operation)
        if answer.get("code") in TOKEN_CODES:  # once more, with a fresh token
            answer = json_object(send(store.token_source(rejected=token)), platform="TikTok Shop",
                                 operation=operation)
        code = answer.get("code")
        if code in RATE_CODES:
            raise RetryLater(f"TikTok Shop {operation}: rate limited", retry_after=5.0, count_attempt=False)
        if raw:
            return answer
        if code != 0:
            raise NeedsHuman("store_api_refused", f"TikTok Shop {operation} answered code {code}. Resolution: "
                             "check the app's scopes and the shop's authorization in Partner Center, then retry.")
        return answer.get("data") or {}

    def list_changed_orders(self, *, http, store: StoreContext, since, until) -> list[dict]:
        """Every order updated in [since, until) (naive UTC), every page, oldest change first (Get Order List)."""
        window = {"update_time_ge": calendar.timegm(since.timetuple()),
                  "update_time_lt": calendar.timegm(until.timetuple())}
        orders, token = [], None
        for _page in range(MAX_POLL_PAGES):
            params = {"page_size": 100, "sort_field": "update_time", "sort_order": "ASC"}
            if token:
                params["page_token"] = token
            data = self._api(http, store, "POST", "/order/202309/orders/search", "getOrderList", params=params,
                             json_body=window)
            orders.extend(o for o in data.get("orders") or [] if isinstance(o, dict))
            token = data.get("next_page_token")
            if not token:
                return orders
        raise NeedsHuman("poll_too_large", f"TikTok Shop getOrderList: more than {MAX_POLL_PAGES} pages of changed "
                         "orders in one window. Resolution: check the shop in Seller Center; the poll tries again "
                         "on its next run.")

    def register_webhooks(self, *, http, store: StoreContext, delivery_url: str, secret: str) -> dict:
        raise NotSupported("TikTok Shop webhooks are set in Partner Center (URL and topics)")

    def write_back(self, *, http, store: StoreContext, order: dict, shipment: ShipmentToWrite) -> WriteBackResult:
        """Mark the units CJ shipped as shipped (Mark Package As Shipped), reading the order first: a number
        TikTok already shows is not sent again (also after a lost answer), and an order TikTok ships itself
        (platform logistics) is not shipped by us."""
        remote = self.fetch_order(http=http, store=store, store_order_id=str(order["store_order_id"]))
        if str(remote.get("shipping_type") or "").upper() == "TIKTOK":
            return WriteBackResult("platform_logistics", None, {"note": (
                f"TikTok ships this order itself (platform logistics): tracking {shipment.tracking_number} was "
                "not sent; the package's label and tracking come from TikTok")})
        wanted = set(shipment.store_line_ids or [line["line_id"] for line in order.get("lines") or []])
        unit_ids = [unit for line in order.get("lines") or [] if line["line_id"] in wanted
                    for unit in str(line.get("line_ref") or "").split(",") if unit]
        units = {str(item.get("id")): item for item in remote.get("line_items") or []}
        # Units cancelled since CJ was sent them (or unknown to TikTok) cannot be shipped: TikTok would refuse
        # the whole call, and the live units with it.
        gone = [uid for uid in unit_ids if uid not in units
                or str(units[uid].get("display_status") or "").upper() in CANCELLED]
        unit_ids = [uid for uid in unit_ids if uid not in gone]
        if not unit_ids:
            return WriteBackResult("nothing_to_fulfill", None, {"note": (
                f"every unit of this parcel ({shipment.tracking_number}) was cancelled in TikTok Shop after it went "
                "to CJ: nothing to mark shipped")})
        shipped = {uid: str(units[uid].get("tracking_number") or "") for uid in unit_ids}
        if unit_ids and all(shipped.get(uid) == shipment.tracking_number for uid in unit_ids):
            return WriteBackResult("already_present", units[unit_ids[0]].get("package_id"), {})
        elsewhere = sorted({n for n in shipped.values() if n and n != shipment.tracking_number})
        if elsewhere:
            raise NeedsHuman("writeback_rejected", "TikTok Shop shows these units shipped with "
                             f"{', '.join(elsewhere)}, "
                             f"not {shipment.tracking_number}. Resolution: correct it in Seller Center (within 72 h "
                             "of shipping), then POST /admin/orders/<id>/retry.")
        provider, state = self._provider(http, store, remote, shipment.carrier)
        data = self._api(http, store, "POST", f"/fulfillment/202309/orders/{remote['id']}/packages",
                         "markPackageShipped", json_body={"order_line_item_ids": unit_ids,
                                                          "tracking_number": shipment.tracking_number,
                                                          "shipping_provider_id": provider})
        notes = []
        if gone:
            notes.append(f"{len(gone)} unit(s) of this parcel were cancelled in TikTok Shop after they went to CJ; "
                         f"the other {len(unit_ids)} were marked shipped")
        deadline = optional_int(remote.get("rts_sla_time"))
        if deadline and time.time() > deadline:
            notes.append(f"tracking {shipment.tracking_number} reached TikTok after the order's handling time ended "
                         f"({_unix(deadline)}): TikTok counts it as a late dispatch for the shop")
        details = {"shipping_provider_id": provider, "units": len(unit_ids)}
        if notes:
            details["note"] = "; ".join(notes)
        return WriteBackResult("created", _text(data.get("package_id")), details, adapter_state=state)

    def _provider(self, http, store: StoreContext, remote: dict, carrier: str | None) -> tuple[str, dict | None]:
        """TikTok's shipping provider id for CJ's carrier name, from the order's delivery option's providers
        (kept per delivery option in the store's adapter state), or the merchant's CARRIER_CODES entry."""
        key = carrier_key(carrier)
        option = str(remote.get("delivery_option_id") or "")
        state = dict(store.adapter_state or {})
        cached = (state.get("shipping_providers") or {}).get(option)
        fetched = None
        if cached is None:
            data = self._api(http, store, "GET", f"/logistics/202309/delivery_options/{option}/shipping_providers",
                             "getShippingProviders")
            cached = [{"id": str(p["id"]), "name": str(p.get("name") or "")}
                      for p in data.get("shipping_providers") or [] if isinstance(p, dict) and p.get("id")]
            fetched = dict(state, shipping_providers=dict(state.get("shipping_providers") or {}, **{option: cached}))
        override = (store.carrier_codes or {}).get(key)
        for wanted in ([override] if override else []):
            for p in cached:
                if wanted in (p["id"], p["name"]) or carrier_key(wanted) == carrier_key(p["name"]):
                    return p["id"], fetched
        for p in cached:
            if carrier_key(p["name"]) and key.startswith(carrier_key(p["name"])):
                return p["id"], fetched
        names = ", ".join(p["name"] for p in cached) or "none"
        raise NeedsHuman("carrier_unmapped", f"TikTok Shop has no shipping provider for CJ's {carrier!r} on this "
                         f"order's delivery option (it offers: {names}). Resolution: add CARRIER_CODES "
                         f"'tiktok_shop:{carrier}=<one of those names>', restart the worker, then POST "
                         "/admin/orders/<id>/retry.")

    def set_stock(self, *, http, store: StoreContext, targets: list[StockTarget], location_id: str | None
                  ) -> list[StockResult]:
        def api(method: str, path: str, operation: str, *, params=None, json_body=None, raw=False) -> dict:
            return self._api(http, store, method, path, operation, params=params, json_body=json_body, raw=raw)
        return tiktok_stock.set_stock(api, targets=targets, location_id=location_id)


def _text(value) -> str | None:
    return None if value in (None, "") else str(value)



def _unix(value) -> str | None:
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


ADAPTER = TikTokShopAdapter()
