"""eBay: orders polled from the Sell Fulfillment API (getOrders) → canonical order; tracking written back.

eBay has no order webhook that carries the order: orders come by polling `getOrders` with a
`lastmodifieddate` window (service/pipeline/polling.py), each state through the same path as a webhook.
API calls carry the seller's user access token (about 2 h), renewed from the refresh token by
service/pipeline/store_tokens.py through `request_access_token`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Mapping
from urllib.parse import quote

from adapters import ebay_stock
from adapters.base import (IGNORED_EVENT, ORDER_EVENT, DeliveryInfo, NotSupported, PrivacyRequest,
                           ShipmentToWrite, StockResult, StockTarget, StoreContext, WriteBackResult, call_store_api,
                           json_object, order_version_key)
from service.canonical import validate_canonical
from service.config import carrier_key
from service.jobs.outcomes import NeedsHuman, RetryLater

API_BASE = "https://api.ebay.com"
FULFILLMENT = "/sell/fulfillment/v1"
INVENTORY = "/sell/inventory/v1"
SCOPE = "https://api.ebay.com/oauth/api_scope/sell.fulfillment"
# Asked for too on each refresh: a seller whose consent lacks it gets a token without it (stock is then skipped).
INVENTORY_SCOPE = "https://api.ebay.com/oauth/api_scope/sell.inventory"
PAGE_SIZE = 200
MAX_PAGES = 50
# eBay's lastModifiedDate index lags behind its writes a little: each poll reaches back this far again
# (what it finds twice is deduplicated by order id + lastModifiedDate).
POLL_OVERLAP = timedelta(minutes=5)
POLL_TOPIC = "order.polled"
PAID = ("PAID", "PARTIALLY_REFUNDED")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._*-]{0,63}")

# CJ's logistic names → eBay shippingCarrierCode (Trading ShippingCarrierCodeType). Longer starts first.
_CARRIERS = (
    ("usps", "USPS"), ("ups", "UPS"), ("fedex", "FedEx"), ("dhlecommerce", "DHLGlobalMail"), ("dhl", "DHL"),
    ("yunexpress", "YunExpress"), ("4px", "4PX"), ("yanwen", "Yanwen"), ("chinapost", "ChinaPost"),
    ("epacket", "ChinaPost"), ("royalmail", "RoyalMail"), ("canadapost", "CanadaPost"),
    ("australiapost", "AustraliaPost"), ("deutschepost", "DeutschePost"), ("postnl", "PostNL"),
    ("laposte", "LaPoste"),
    # CJ's own lines: eBay has no code for them; "Other" carries the number (CJ's tracking page has it).
    ("cjpacket", "Other"),
)


def ebay_carrier(cj_logistic_name: str | None, overrides: dict | None = None) -> str | None:
    """eBay's carrier code for a CJ logistic name: the merchant's entry, else the table; None if none fits."""
    key = carrier_key(cj_logistic_name)
    if key and overrides and key in overrides:
        return overrides[key]
    return next((code for prefix, code in _CARRIERS if key and key.startswith(prefix)), None)


def _money(amount) -> Decimal | None:
    try:
        return Decimal(str((amount or {}).get("value")))
    except (InvalidOperation, TypeError, ValueError):
        return None


def _text(value) -> str | None:
    value = None if value is None else str(value).strip()
    return value or None


class EbayAdapter:
    platform = "ebay"
    cj_platform = "ebay"
    can_register_webhooks = False
    # Through the Inventory API, for the listings it holds (adapters/ebay_stock.py); Trading-API listings are skipped.
    can_set_stock = True
    domain_is_platform_host = True  # the store is a seller account; its API is eBay's own host
    supports_polling = True
    poll_topic = POLL_TOPIC
    orders_by_polling = True
    # eBay's notices (account deletion) are signed with eBay's own keys, not a store's secret.
    notices_signed_by_platform = True
    NOTICE_SIGNATURE_HEADER = "X-EBAY-SIGNATURE"

    # -- platform notices (Marketplace Account Deletion) ---------------------------------------------
    def answer_challenge(self, challenge_code: str, *, verification_token: str, endpoint: str) -> dict:
        """eBay's endpoint check: SHA-256 hex of code + verification token + the endpoint URL as registered."""
        digest = hashlib.sha256((challenge_code + verification_token + endpoint).encode()).hexdigest()
        return {"challengeResponse": digest}

    def notice_key_id(self, headers: Mapping[str, str]) -> str:
        """The key id a notice is signed with (ValueError when the signature header is not eBay's)."""
        return self._signature(headers)["kid"]

    def verify_notice(self, raw_body: bytes, headers: Mapping[str, str], *, key_pem: str, digest: str) -> bool:
        """ECDSA (P-256) over the raw body; eBay's SDKs verify a compact re-serialisation, tried second."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        try:
            header = self._signature(headers)
            signature = base64.b64decode(header["signature"], validate=True)
            key = serialization.load_pem_public_key(_pem(key_pem).encode())
        except (ValueError, KeyError, binascii.Error):
            return False
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        algorithm = {"SHA1": hashes.SHA1(), "SHA256": hashes.SHA256()}.get((digest or "SHA1").upper())
        if algorithm is None:
            return False
        candidates = [raw_body]
        try:
            candidates.append(json.dumps(json.loads(raw_body), separators=(",", ":"), ensure_ascii=False).encode())
        except (ValueError, UnicodeDecodeError):
            pass
        for body in candidates:
            try:
                key.verify(signature, body, ec.ECDSA(algorithm))
                return True
            except InvalidSignature:
                continue
        return False

    def notice(self, payload: dict) -> dict:
        """What a verified notice asks for: {"kind", "id", "user_refs"} (ValueError if it is no known notice)."""
        topic = ((payload.get("metadata") or {}).get("topic") or "") if isinstance(payload, dict) else ""
        notification = (payload.get("notification") or {}) if isinstance(payload, dict) else {}
        if not notification.get("notificationId"):
            raise ValueError("a notice without a notificationId")
        data = notification.get("data") or {}
        if topic == "MARKETPLACE_ACCOUNT_DELETION":
            refs = [str(data[k]) for k in ("username", "userId") if data.get(k)]
            return {"kind": "erase_user", "id": str(notification["notificationId"]), "user_refs": refs}
        order_id = str(((data.get("order") or {}).get("orderId")) or "").strip()
        if topic == "ORDER_CONFIRMATION" and order_id and len(order_id) <= 64:
            # A hint (it carries the order id only): the order is read from the Fulfillment API at once.
            return {"kind": "poll_order", "id": str(notification["notificationId"]), "order_id": order_id}
        raise ValueError(f"not a notice acted on (topic {topic[:60]!r})")

    def fetch_public_key(self, http, *, api_base_url: str | None, credentials: dict, kid: str) -> tuple[str, str]:
        """(PEM, digest) of eBay's key `kid`, read with an application token from the app's keys."""
        client_id, secret = credentials.get("client_id"), credentials.get("client_secret")
        if not (client_id and secret):
            raise NeedsHuman("store_credentials_missing", "no eBay store holds the app's client_id and "
                             "client_secret, which reading eBay's notification keys needs. Resolution: register "
                             "the eBay store with its api_credentials.")
        base = (api_base_url or API_BASE).rstrip("/")
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        token_response = call_store_api(
            http, "POST", f"{base}/identity/v1/oauth2/token", platform="eBay", operation="applicationToken",
            default_retry_after=10.0, auth_resolution="check the app's client id and secret, then retry.",
            data={"grant_type": "client_credentials", "scope": "https://api.ebay.com/oauth/api_scope"},
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"})
        token = json_object(token_response, platform="eBay", operation="applicationToken").get("access_token")
        if not token:
            raise RetryLater("eBay applicationToken: the answer holds no access token")
        key_response = call_store_api(
            http, "GET", f"{base}/commerce/notification/v1/public_key/{quote(kid, safe='')}", platform="eBay",
            operation="getPublicKey", default_retry_after=10.0, auth_resolution="check the app's keys, then retry.",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        body = json_object(key_response, platform="eBay", operation="getPublicKey")
        if not body.get("key"):
            raise RetryLater(f"eBay getPublicKey: no key in the answer for {kid}")
        return _pem(str(body["key"])), str(body.get("digest") or "SHA1")

    def _signature(self, headers: Mapping[str, str]) -> dict:
        try:
            header = json.loads(base64.b64decode(headers.get(self.NOTICE_SIGNATURE_HEADER) or "", validate=True))
        except (ValueError, binascii.Error):
            raise ValueError("the X-EBAY-SIGNATURE header is not base64 JSON") from None
        if not isinstance(header, dict) or not header.get("kid") or not header.get("signature"):
            raise ValueError("the X-EBAY-SIGNATURE header names no key id or signature")
        if not re.fullmatch(r"[A-Za-z0-9-]{8,64}", str(header["kid"])):
            raise ValueError("the key id is not one of eBay's (a UUID)")
        return header

    # -- inbound -------------------------------------------------------------------------------
    def identify(self, headers: Mapping[str, str], raw_body: bytes = b"") -> DeliveryInfo:
        # eBay's notifications name no seller in their headers; none is accepted as a store delivery.
        return DeliveryInfo(store_domain=None, topic="", delivery_id=None)

    def unsigned_delivery_topic(self, raw_body: bytes, headers: Mapping[str, str]) -> str | None:
        return None

    def normalize_domain(self, value: str) -> str:
        """The seller's eBay user id (sellerId in getOrders), lower case."""
        value = (value or "").strip().lower()
        if not _USERNAME.fullmatch(value):
            raise ValueError(f"an eBay store is the seller's eBay user id (letters, digits, . _ - *); "
                             f"got {value[:100]!r}")
        return value

    def verify(self, raw_body: bytes, headers: Mapping[str, str], secrets: list[str]) -> bool:
        return False  # no store delivery comes by webhook (orders are polled)

    def delivery_keys(self, info: DeliveryInfo, headers: Mapping[str, str], payload) -> list[str]:
        if not isinstance(payload, dict) or not payload.get("orderId"):
            return []
        return [order_version_key(self.order_version(payload), info.topic)]

    def event_kind(self, topic: str) -> str:
        return ORDER_EVENT if topic == POLL_TOPIC else IGNORED_EVENT

    def named_shop(self, payload) -> str | None:
        return None

    def signed_time(self, payload):
        return None

    def privacy_request(self, topic: str, payload: dict) -> PrivacyRequest:
        raise NotSupported("eBay account deletion arrives at its own endpoint")

    def deleted_order_id(self, payload: dict) -> str:
        raise ValueError("eBay orders are not deleted, they are cancelled")

    def changed_order_id(self, payload: dict) -> str:
        raise ValueError("polled eBay orders are whole")

    def order_version(self, payload: dict) -> str:
        return f"{payload.get('orderId')}:{payload.get('lastModifiedDate') or ''}"

    def normalize(self, payload: dict, *, topic: str) -> dict:
        if not isinstance(payload, dict):
            raise ValueError("order payload must be a JSON object")
        instructions = payload.get("fulfillmentStartInstructions") or [{}]
        ship_to = ((instructions[0] or {}).get("shippingStep") or {}).get("shipTo") or {}
        contact = ship_to.get("contactAddress") or {}
        address = None
        if ship_to:
            full_name = _text(ship_to.get("fullName"))
            first, _, last = (full_name or "").partition(" ")
            address = {"name": full_name, "first_name": _text(first), "last_name": _text(last),
                       "company": _text(ship_to.get("companyName")),
                       "address1": _text(contact.get("addressLine1")), "address2": _text(contact.get("addressLine2")),
                       "city": _text(contact.get("city")), "province": _text(contact.get("stateOrProvince")),
                       "province_code": _text(contact.get("stateOrProvince")), "zip": _text(contact.get("postalCode")),
                       "country": _text(contact.get("countryCode")), "country_code": _text(contact.get("countryCode")),
                       "phone": _text((ship_to.get("primaryPhone") or {}).get("phoneNumber")),
                       "email": _text(ship_to.get("email"))}
        lines = []
        for item in payload.get("lineItems") or []:
            quantity = int(item.get("quantity") or 0)
            cost = _money(item.get("lineItemCost"))  # the extended price: unit price × quantity
            unit = (cost / quantity).quantize(Decimal("0.01")) if cost is not None and quantity else None
            lines.append({
                "line_id": _text(item.get("lineItemId")),
                "line_ref": _text(item.get("lineItemId")),
                "variant_id": _text(item.get("legacyVariationId")) or _text(item.get("legacyItemId")),
                "product_id": _text(item.get("legacyItemId")),
                "sku": _text(item.get("sku")),
                "title": _text(item.get("title")),
                "quantity": quantity,
                "unit_price": str(unit) if unit is not None else None,
                # A line the seller already shipped (or started shipping) is not CJ's to ship.
                "requires_shipping": (item.get("lineItemFulfillmentStatus") or "NOT_STARTED") == "NOT_STARTED",
            })
        pricing = payload.get("pricingSummary") or {}
        payment = _text(payload.get("orderPaymentStatus"))
        cancel = ((payload.get("cancelStatus") or {}).get("cancelState") or "NONE_REQUESTED")
        total, subtotal, delivery = (_money(pricing.get(k)) for k in ("total", "priceSubtotal", "deliveryCost"))
        return validate_canonical({
            "platform": self.platform,
            "store_order_id": _text(payload.get("orderId")),
            "order_ref": _text(payload.get("legacyOrderId")),
            "name": _text(payload.get("orderId")),
            "currency": _text((pricing.get("total") or {}).get("currency")),
            "total_price": str(total) if total is not None else None,
            "subtotal_price": str(subtotal) if subtotal is not None else None,
            "shipping_price": str(delivery) if delivery is not None else None,
            "financial_status": payment.lower() if payment else None,
            "paid": payment in PAID,
            "cancelled": cancel == "CANCELED",
            "refunded": payment == "FULLY_REFUNDED",
            "test": False,
            "email": _text(ship_to.get("email")),
            "note": None,
            "customer_ref": _text((payload.get("buyer") or {}).get("username")),
            "lines": lines,
            "shipping_address": address,
            "created_at": _text(payload.get("creationDate")),
            "updated_at": _text(payload.get("lastModifiedDate")),
        })

    # -- outbound ------------------------------------------------------------------------------
    def request_access_token(self, http, *, domain: str, api_base_url: str | None, credentials: dict
                             ) -> tuple[str, int, dict]:
        """A user access token from the seller's refresh token (Basic auth with the app's keys)."""
        client_id, secret = credentials.get("client_id"), credentials.get("client_secret")
        refresh = credentials.get("refresh_token")
        if not (client_id and secret and refresh):
            raise NeedsHuman("store_credentials_missing", f"eBay store {domain} lacks client_id, client_secret or "
                             "refresh_token. Resolution: PATCH /admin/stores/<id> with api_credentials {client_id, "
                             "client_secret, refresh_token}, then retry.")
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()

        def grant(scope: str):
            return call_store_api(
                http, "POST", f"{(api_base_url or API_BASE).rstrip('/')}/identity/v1/oauth2/token", platform="eBay",
                operation="refreshToken", default_retry_after=10.0, ok=(200, 400),
                auth_resolution="check the app's client id and secret (PATCH /admin/stores/<id>), then retry.",
                data={"grant_type": "refresh_token", "refresh_token": refresh, "scope": scope},
                headers={"Authorization": f"Basic {basic}", "Accept": "application/json"})
        response, scopes = grant(f"{SCOPE} {INVENTORY_SCOPE}"), "fulfillment inventory"
        if response.status_code == 400 and _oauth_error(response) == "invalid_scope":
            # The seller's consent predates stock sync (orders only): orders go on, stock writes say why not.
            response, scopes = grant(SCOPE), "fulfillment"
        if response.status_code == 400:  # invalid_grant: the refresh token expired or the seller revoked it
            raise NeedsHuman("store_auth_failed", f"eBay refused the refresh token of {domain} (HTTP 400). "
                             "Resolution: have the seller grant the app access again (eBay's consent page) and "
                             "PATCH /admin/stores/<id> with the new refresh_token, then retry.")
        try:
            body = response.json()
            # What the token may do is kept with the credentials: stock writes need the inventory scope.
            return str(body["access_token"]), int(body.get("expires_in") or 7200), {"granted_scopes": scopes}
        except (ValueError, KeyError, TypeError):
            raise RetryLater("eBay refreshToken: the answer holds no access token") from None

    def _request(self, http, store: StoreContext, method: str, path: str, operation: str, *, ok=(200,),
                 params=None, json=None, api: str = FULFILLMENT):
        if store.token_source is None:
            raise NeedsHuman("store_credentials_missing", f"eBay store {store.domain} has no API credentials. "
                             "Resolution: PATCH /admin/stores/<id> with api_credentials {client_id, "
                             "client_secret, refresh_token}, then retry.")
        url = f"{(store.api_base_url or API_BASE).rstrip('/')}{api}{path}"
        scope = "sell.inventory" if api == INVENTORY else "sell.fulfillment"

        def send(token: str):
            return call_store_api(
                http, method, url, platform="eBay", operation=operation, default_retry_after=10.0, ok=ok,
                auth_resolution=f"check the seller's consent (scope {scope}) and the refresh token "
                                "(PATCH /admin/stores/<id>), then retry.",
                params=params, json=json,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                         "Content-Type": "application/json"})
        token = store.token_source()
        try:
            return send(token)
        except NeedsHuman as exc:
            if getattr(exc, "http_status", None) != 401:
                raise  # a 403 is about what the token may do: a new one would be the same
            return send(store.token_source(rejected=token))  # expired early or revoked: one renewal

    def fetch_order(self, *, http, store: StoreContext, store_order_id: str) -> dict:
        response = self._request(http, store, "GET", f"/order/{quote(store_order_id, safe='')}", "getOrder")
        return json_object(response, platform="eBay", operation="getOrder")

    def list_changed_orders(self, *, http, store: StoreContext, since, until) -> list[dict]:
        if store.token_source is None:
            raise NotSupported("the store has no API credentials (api_credentials), so it cannot be polled")
        start = _ebay_time(since - POLL_OVERLAP)
        end = _ebay_time(until)
        orders, offset = [], 0
        for _page in range(MAX_PAGES):
            body = json_object(self._request(http, store, "GET", "/order", "getOrders", params={
                "filter": f"lastmodifieddate:[{start}..{end}]", "limit": PAGE_SIZE, "offset": offset}),
                platform="eBay", operation="getOrders")
            page = body.get("orders") or []
            orders.extend(page)
            offset += len(page)
            if not page or not body.get("next") or offset >= int(body.get("total") or 0):
                return orders
        raise RetryLater(f"eBay getOrders: more than {MAX_PAGES * PAGE_SIZE} orders changed in one window; "
                         "polling again from the same cursor")

    def register_webhooks(self, *, http, store: StoreContext, delivery_url: str, secret: str) -> dict:
        raise NotSupported("eBay orders are polled; there is no order webhook to register")

    def set_stock(self, *, http, store: StoreContext, targets: list[StockTarget], location_id: str | None
                  ) -> list[StockResult]:
        if store.credentials.get("granted_scopes") == "fulfillment":
            raise NeedsHuman("store_scope_missing", f"the seller of {store.domain} consented to orders only (scope "
                             "sell.fulfillment), so eBay quantities cannot be written. Resolution: have the seller "
                             "consent again with sell.fulfillment and sell.inventory, PATCH /admin/stores/<id> with "
                             "the new refresh_token, then resync the store's stock.")

        def request(method: str, path: str, operation: str, *, params=None, json=None, ok=(200, 207)):
            response = self._request(http, store, method, path, operation, ok=ok, params=params, json=json,
                                     api=INVENTORY)
            return response.status_code, json_object(response, platform="eBay", operation=operation)
        return ebay_stock.set_stock(request, targets=targets)

    def write_back(self, *, http, store: StoreContext, order: dict, shipment: ShipmentToWrite) -> WriteBackResult:
        """One shipping fulfillment per CJ parcel; never the same number twice (the call is not idempotent)."""
        order_id = quote(order["store_order_id"], safe="")
        existing = json_object(self._request(http, store, "GET", f"/order/{order_id}/shipping_fulfillment",
                                             "getShippingFulfillments"),
                               platform="eBay", operation="getShippingFulfillments")
        for fulfillment in existing.get("fulfillments") or []:
            if fulfillment.get("shipmentTrackingNumber") == shipment.tracking_number:
                return WriteBackResult("already_present", fulfillment.get("fulfillmentId"))
        wanted = set(shipment.store_line_ids) if shipment.store_line_ids else None
        lines = [{"lineItemId": line["line_id"], "quantity": int(line["quantity"])}
                 for line in order.get("lines") or []
                 if line.get("quantity", 0) > 0 and (wanted is None or line["line_id"] in wanted)]
        if not lines:
            raise NeedsHuman("writeback_rejected", f"no line of eBay order {order['store_order_id']} is left for "
                             f"tracking {shipment.tracking_number}. Resolution: check the order on eBay, then retry.")
        carrier = ebay_carrier(shipment.carrier, store.carrier_codes)
        if carrier is None:
            raise NeedsHuman("carrier_unmapped", f"eBay has no carrier code for CJ's {shipment.carrier!r}, so tracking "
                             f"{shipment.tracking_number} was not sent. Resolution: add "
                             f"'ebay:{shipment.carrier}=<eBay carrier code>' to CARRIER_CODES (eBay's codes: USPS, "
                             "UPS, FedEx, DHL, Other, …), restart the worker, then POST /admin/orders/<id>/retry.")
        response = self._request(http, store, "POST", f"/order/{order_id}/shipping_fulfillment",
                                 "createShippingFulfillment", ok=(200, 201), json={
                                     "lineItems": lines, "shippingCarrierCode": carrier,
                                     "trackingNumber": shipment.tracking_number,
                                     "shippedDate": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")})
        fulfillment_id = (response.headers.get("Location") or "").rstrip("/").rsplit("/", 1)[-1] or None
        return WriteBackResult("created", fulfillment_id, {"carrier_code": carrier})


def _oauth_error(response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def _pem(key: str) -> str:
    """eBay sends the PEM on one line: put the base64 on lines of its own, as PEM loaders need."""
    body = key.replace("-----BEGIN PUBLIC KEY-----", "").replace("-----END PUBLIC KEY-----", "")
    body = re.sub(r"\s+", "", body)
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def _ebay_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")



ADAPTER = EbayAdapter()
