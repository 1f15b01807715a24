"""WooCommerce: signed webhooks and the unsigned ping, REST order → canonical, polling, tracking write-back."""
from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Mapping
from urllib.parse import urlsplit

import requests

from adapters.base import (IGNORED_EVENT, ORDER_DELETED_EVENT, ORDER_EVENT, DeliveryInfo, NotSupported,
                           PrivacyRequest, ShipmentToWrite, StockResult, StockTarget, StoreContext, WriteBackResult,
                           call_store_api, order_version_key, signature_matches)
from adapters import woocommerce_stock
from service.canonical import validate_canonical
from service.jobs.outcomes import NeedsHuman, RetryLater

ORDER_TOPICS = ("order.created", "order.updated", "order.restored")
WEBHOOK_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
PAID_STATUSES = ("processing", "completed")
CANCELLED_STATUSES = ("cancelled", "refunded", "failed", "trash")
_PING = re.compile(rb"^webhook_id=\d{1,20}$")
PAGE_SIZE = 100
MAX_PAGES = 50

# Tracking mechanisms, in order of preference (customer emails include tracking for the first two).
SHIPMENT_TRACKING = "shipment_tracking"
NATIVE_FULFILLMENTS = "native_fulfillments"
NOTE_ONLY = "note_only"


def _text(value) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _gmt(value: str | None) -> str | None:
    """Woo's *_gmt times have no zone: they are UTC."""
    return f"{value}+00:00" if value and not value.endswith(("Z", "+00:00")) else value


class WooCommerceAdapter:
    platform = "woocommerce"
    can_register_webhooks = True
    domain_is_platform_host = False  # the merchant's own site
    supports_polling = True
    poll_topic = "order.updated"
    cj_platform = "Woocommerce"  # sic: CJ's list capitalises it so
    can_set_stock = True
    orders_by_polling = False

    # -- inbound -------------------------------------------------------------------------------
    def identify(self, headers: Mapping[str, str], raw_body: bytes = b"") -> DeliveryInfo:
        return DeliveryInfo(store_domain=headers.get("X-WC-Webhook-Source"),
                            topic=(headers.get("X-WC-Webhook-Topic") or "").strip(),
                            delivery_id=headers.get("X-WC-Webhook-Delivery-ID"))

    def unsigned_delivery_topic(self, raw_body: bytes, headers: Mapping[str, str]) -> str | None:
        # The ping WooCommerce sends when a webhook is saved: "webhook_id=N", no X-WC-* headers.
        if "X-WC-Webhook-Signature" not in headers and _PING.match(raw_body.strip()):
            return "ping"
        return None

    def normalize_domain(self, value: str) -> str:
        """Site URL → 'host[/path]' in lower case, as X-WC-Webhook-Source (home_url('/')) gives it."""
        value = value.strip()
        if "://" not in value:
            value = "https://" + value
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"not a site URL: {value[:100]!r}") from None
        if not host:
            raise ValueError(f"not a site URL: {value[:100]!r}")
        if port and port not in (80, 443):
            host = f"{host}:{port}"
        path = parts.path.rstrip("/")
        return host + path

    def verify(self, raw_body: bytes, headers: Mapping[str, str], secrets: list[str]) -> bool:
        return signature_matches(raw_body, headers.get("X-WC-Webhook-Signature"), secrets)

    def delivery_keys(self, info: DeliveryInfo, headers: Mapping[str, str], payload) -> list[str]:
        # The delivery id changes on every delivery: one order state per topic is one delivery.
        if not isinstance(payload, dict) or payload.get("id") is None:
            return []
        if info.topic == "order.deleted":
            # Only {"id": N}: nothing tells one trashing from the next (trash → restore → trash), so each
            # delivery counts; process_event asks the store whether the order is still in the trash.
            return [f"order-deleted:{payload['id']}:{info.delivery_id.strip()}"] if info.delivery_id else []
        return [order_version_key(self.order_version(payload), info.topic)]

    def named_shop(self, payload) -> str | None:
        return None  # WooCommerce bodies do not name the site; the signature (per-site secret) binds them

    def signed_time(self, payload) -> datetime | None:
        return None  # WooCommerce sends no uninstall

    def order_version(self, payload: dict) -> str:
        return f"{payload.get('id')}:{payload.get('date_modified_gmt') or payload.get('date_modified') or ''}"

    def event_kind(self, topic: str) -> str:
        if topic in ORDER_TOPICS:
            return ORDER_EVENT
        if topic == "order.deleted":
            return ORDER_DELETED_EVENT
        return IGNORED_EVENT

    def privacy_request(self, topic: str, payload: dict) -> PrivacyRequest:
        raise NotSupported("WooCommerce sends no privacy webhooks; erase data with the store's own tools")

    def deleted_order_id(self, payload: dict) -> str:
        if not isinstance(payload, dict) or payload.get("id") is None:
            raise ValueError("order.deleted payload has no id")
        return str(payload["id"])

    def normalize(self, payload: dict, *, topic: str) -> dict:
        if not isinstance(payload, dict):
            raise ValueError("order payload must be a JSON object")
        status = _text(payload.get("status"))
        billing = payload.get("billing") or {}
        shipping = payload.get("shipping") or {}
        # Stores that ship to the billing address sometimes leave the shipping block empty.
        source = shipping if _text(shipping.get("address_1")) else billing
        address = None
        if _text(source.get("address_1")) or _text(source.get("country")):
            first, last = _text(source.get("first_name")), _text(source.get("last_name"))
            state = _text(source.get("state"))
            address = {
                "name": " ".join(p for p in (first, last) if p) or None, "first_name": first, "last_name": last,
                "company": _text(source.get("company")), "address1": _text(source.get("address_1")),
                "address2": _text(source.get("address_2")), "city": _text(source.get("city")),
                "province": state, "province_code": state, "zip": _text(source.get("postcode")),
                "country": None, "country_code": _text(source.get("country")),
                "phone": _text(shipping.get("phone")) or _text(billing.get("phone")),
                "email": _text(billing.get("email"))}
        lines = []
        for item in payload.get("line_items") or []:
            variation = item.get("variation_id") or 0
            lines.append({
                "line_id": _text(item.get("id")),
                "line_ref": None,
                # Simple products have variation_id 0: the product id is then the variant.
                "variant_id": _text(variation if variation else item.get("product_id")),
                "product_id": _text(item.get("product_id")),
                "sku": _text(item.get("sku")),
                "title": html.unescape(_text(item.get("name")) or "") or None,
                "quantity": item.get("quantity"),
                "unit_price": _text(item.get("price")),
                "requires_shipping": True,
            })
        subtotal = sum((float(l.get("subtotal") or 0) for l in payload.get("line_items") or []), 0.0)
        return validate_canonical({
            "platform": self.platform,
            "store_order_id": _text(payload.get("id")),
            "order_ref": None,
            "name": f"#{payload.get('number') or payload.get('id')}",
            "currency": _text(payload.get("currency")),
            "total_price": _text(payload.get("total")),
            "subtotal_price": f"{subtotal:.2f}",
            "shipping_price": _text(payload.get("shipping_total")),
            "financial_status": status,
            "paid": status in PAID_STATUSES,
            "cancelled": status in CANCELLED_STATUSES,
            "test": False,
            "email": _text(billing.get("email")),
            "note": _text(payload.get("customer_note")),
            "lines": lines,
            "shipping_address": address,
            "created_at": _gmt(_text(payload.get("date_created_gmt"))),
            "updated_at": _gmt(_text(payload.get("date_modified_gmt"))),
        })

    # -- outbound ------------------------------------------------------------------------------
    def _request(self, http, store: StoreContext, method: str, path: str, operation: str, *, params=None,
                 json=None, ok=(200, 201)) -> requests.Response:
        base = (store.api_base_url or f"https://{store.domain}").rstrip("/")
        key, secret = store.credentials.get("consumer_key"), store.credentials.get("consumer_secret")
        if not key or not secret:
            raise NeedsHuman("store_credentials_missing",
                             f"store {store.domain} has no WooCommerce REST keys. Resolution: create a Read/Write "
                             "key in WooCommerce → Settings → Advanced → REST API, then PATCH /admin/stores/<id> "
                             "with api_credentials {consumer_key, consumer_secret}.")
        params = dict(params or {})
        auth = (key, secret)
        if str(store.credentials.get("auth_in_query", "")).lower() == "true":
            # Some hosts strip the Authorization header; WooCommerce accepts the keys as parameters.
            params.update(consumer_key=key, consumer_secret=secret)
            auth = None
        return call_store_api(
            http, method, f"{base}/wp-json{path}", platform="WooCommerce", operation=operation,
            default_retry_after=30.0, ok=ok, params=params or None, json=json, auth=auth,
            auth_resolution="check the REST key has Read/Write permission (if the host strips Authorization "
                            "headers, add \"auth_in_query\": \"true\" to api_credentials), then retry the order.")

    def _json(self, response: requests.Response, operation: str):
        try:
            return response.json()
        except ValueError:
            raise RetryLater(f"WooCommerce {operation}: response is not JSON") from None

    def request_access_token(self, http, *, domain: str, api_base_url: str | None, credentials: dict) -> tuple[str, int]:
        raise NotSupported("WooCommerce stores authenticate with REST keys")

    def changed_order_id(self, payload: dict) -> str:
        raise ValueError("WooCommerce order deliveries carry the whole order")

    def fetch_order(self, *, http, store: StoreContext, store_order_id: str) -> dict:
        response = self._request(http, store, "GET", f"/wc/v3/orders/{store_order_id}", "getOrder")
        return self._json(response, "getOrder")

    def list_changed_orders(self, *, http, store: StoreContext, since: datetime, until: datetime) -> list[dict]:
        orders = []
        for page in range(1, MAX_PAGES + 1):
            response = self._request(http, store, "GET", "/wc/v3/orders", "listOrders", params={
                "modified_after": since.strftime("%Y-%m-%dT%H:%M:%S"),
                "modified_before": until.strftime("%Y-%m-%dT%H:%M:%S"),
                "dates_are_gmt": "true", "orderby": "modified", "order": "asc",
                "per_page": PAGE_SIZE, "page": page, "status": "any"})
            batch = self._json(response, "listOrders")
            if not isinstance(batch, list):
                raise RetryLater("WooCommerce listOrders: expected a list")
            orders.extend(batch)
            total_pages = _seconds(response.headers.get("X-WP-TotalPages"), 0)
            if len(batch) < PAGE_SIZE or (total_pages and page >= total_pages):
                return orders
        raise RetryLater(f"WooCommerce listOrders: more than {MAX_PAGES * PAGE_SIZE} changed orders; "
                         "continuing from the newest one seen", retry_after=1.0, count_attempt=False)

    def register_webhooks(self, *, http, store: StoreContext, delivery_url: str, secret: str) -> dict:
        existing, page = [], 1
        while True:
            response = self._request(http, store, "GET", "/wc/v3/webhooks", "listWebhooks",
                                     params={"per_page": PAGE_SIZE, "page": page})
            batch = self._json(response, "listWebhooks")
            existing.extend(batch if isinstance(batch, list) else [])
            if not isinstance(batch, list) or len(batch) < PAGE_SIZE:
                break
            page += 1
        present = {w.get("topic") for w in existing
                   if w.get("delivery_url") == delivery_url and w.get("status") == "active"}
        created, reactivated = [], []
        for topic in WEBHOOK_TOPICS:
            if topic in present:
                continue
            stale = next((w for w in existing if w.get("delivery_url") == delivery_url and w.get("topic") == topic),
                         None)
            if stale is not None:
                # Disabled after delivery failures (or paused): turn it back on, secret refreshed.
                self._request(http, store, "PUT", f"/wc/v3/webhooks/{stale['id']}", "updateWebhook",
                              json={"status": "active", "secret": secret})
                reactivated.append(topic)
                continue
            self._request(http, store, "POST", "/wc/v3/webhooks", "createWebhook", json={
                "name": f"CJ Bridge {topic}", "status": "active", "topic": topic,
                "delivery_url": delivery_url, "secret": secret})
            created.append(topic)
        return {"created": created, "reactivated": reactivated,
                "already_present": sorted(t for t in present if t in WEBHOOK_TOPICS)}

    def detect_tracking_mechanism(self, http, store: StoreContext) -> str:
        """Which tracking API this site offers, read from the REST index's namespaces and routes."""
        index = self._json(self._request(http, store, "GET", "/", "restIndex"), "restIndex")
        namespaces = set(index.get("namespaces") or []) if isinstance(index, dict) else set()
        routes = (index.get("routes") or {}) if isinstance(index, dict) else {}
        if "wc-shipment-tracking/v3" in namespaces:
            return SHIPMENT_TRACKING
        if any(r.startswith("/wc/v3/orders/") and r.endswith("/fulfillments") for r in routes):
            return NATIVE_FULFILLMENTS
        return NOTE_ONLY

    def set_stock(self, *, http, store: StoreContext, targets: list[StockTarget], location_id: str | None
                  ) -> list[StockResult]:
        def request(method: str, path: str, operation: str, *, params=None, json=None, ok=(200, 201)):
            return self._json(self._request(http, store, method, path, operation, params=params, json=json, ok=ok),
                              operation)
        return woocommerce_stock.set_stock(request, targets=targets)  # WooCommerce counts one stock per item

    def write_back(self, *, http, store: StoreContext, order: dict, shipment: ShipmentToWrite) -> WriteBackResult:
        state = dict(store.adapter_state or {})
        mechanism = state.get("tracking_mechanism")
        new_state = None
        if mechanism not in (SHIPMENT_TRACKING, NATIVE_FULFILLMENTS, NOTE_ONLY):
            mechanism = self.detect_tracking_mechanism(http, store)
            new_state = dict(state, tracking_mechanism=mechanism)
        try:
            return self._write_tracking(http, store, order, shipment, mechanism, new_state)
        except _MechanismGone:
            # The plugin was removed (or the site changed) since the method was detected: detect it again.
            detected = self.detect_tracking_mechanism(http, store)
            return self._write_tracking(http, store, order, shipment, detected,
                                        dict(state, tracking_mechanism=detected, tracking_redetected_from=mechanism))

    def _list(self, http, store: StoreContext, path: str, operation: str):
        response = self._request(http, store, "GET", path, operation, ok=(200, 404))
        if response.status_code == 404:
            raise _MechanismGone(operation)
        return self._json(response, operation)

    def _write_tracking(self, http, store: StoreContext, order: dict, shipment: ShipmentToWrite, mechanism: str,
                        new_state: dict | None) -> WriteBackResult:
        order_id = order["store_order_id"]
        details = {"mechanism": mechanism}
        number = shipment.tracking_number

        outcome, tracking_id = "already_present", None
        if mechanism == SHIPMENT_TRACKING:
            path = f"/wc-shipment-tracking/v3/orders/{order_id}/shipment-trackings"
            current = self._list(http, store, path, "listTrackings")
            found = next((t for t in current or [] if t.get("tracking_number") == number), None)
            if found is None:
                body = {"tracking_number": number, "custom_tracking_provider": shipment.carrier or "Carrier",
                        # The literal address: the plugin's current builds show this field as it is.
                        "custom_tracking_link": shipment.tracking_url or ""}
                created = self._json(self._request(http, store, "POST", path, "createTracking", json=body),
                                     "createTracking")
                outcome, tracking_id = "created", (created or {}).get("tracking_id")
            else:
                tracking_id = found.get("tracking_id")
        elif mechanism == NATIVE_FULFILLMENTS and shipment.add_to_fulfillment_id:
            pass  # another parcel of items already fulfilled: the note below records its number
        elif mechanism == NATIVE_FULFILLMENTS:
            path = f"/wc/v3/orders/{order_id}/fulfillments"
            current = self._list(http, store, path, "listFulfillments")
            found = next((f for f in current or [] if _meta(f, "_tracking_number") == number), None)
            if found is None:
                items = [{"item_id": int(l["line_id"]), "qty": int(l["quantity"])} for l in _shipped_lines(
                    order, shipment.store_line_ids)]
                meta = [{"key": "_items", "value": items}, {"key": "_tracking_number", "value": number}]
                if shipment.tracking_url:
                    meta.append({"key": "_tracking_url", "value": shipment.tracking_url})
                created = self._json(self._request(
                    http, store, "POST", path, "createFulfillment", params={"notify_customer": "true"},
                    json={"status": "fulfilled", "is_fulfilled": True, "meta_data": meta}), "createFulfillment")
                outcome, tracking_id = "created", str((created or {}).get("id") or "") or None
            else:
                tracking_id = str(found.get("id"))

        # The note is the record of what shipped; it is the customer's only notice when no tracking API exists.
        notes_path = f"/wc/v3/orders/{order_id}/notes"
        notes = self._json(self._request(http, store, "GET", notes_path, "listNotes"), "listNotes")
        if not any(number in str(n.get("note") or "") for n in notes or []):
            text = f"Shipped via {shipment.carrier or 'carrier'}, tracking {number}"
            if shipment.tracking_url:
                text += f": {shipment.tracking_url}"
            self._request(http, store, "POST", notes_path, "createNote",
                          json={"note": text, "customer_note": mechanism == NOTE_ONLY})
            if mechanism == NOTE_ONLY:
                outcome = "created"
        details["note"] = True

        if shipment.final:
            current = self._json(self._request(http, store, "GET", f"/wc/v3/orders/{order_id}", "getOrder"),
                                 "getOrder")
            if (current or {}).get("status") not in ("completed", "cancelled", "refunded", "failed", "trash"):
                # Tracking is attached first, so WooCommerce's "completed" email carries it.
                self._request(http, store, "PUT", f"/wc/v3/orders/{order_id}", "completeOrder",
                              json={"status": "completed"})
                details["completed"] = True
        return WriteBackResult(outcome, tracking_id, details, adapter_state=new_state)


class _MechanismGone(Exception):
    """The remembered tracking API answered 404: its plugin is gone."""


def _meta(obj: dict, key: str):
    for entry in obj.get("meta_data") or []:
        if entry.get("key") == key:
            return entry.get("value")
    return None


def _shipped_lines(order: dict, store_line_ids: list[str] | None) -> list[dict]:
    wanted = set(store_line_ids) if store_line_ids else None
    return [l for l in order.get("lines") or [] if l.get("quantity", 0) > 0
            and (wanted is None or l["line_id"] in wanted)]


def _seconds(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


ADAPTER = WooCommerceAdapter()
