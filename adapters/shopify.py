"""Shopify: webhook identity and HMAC, REST order payload → canonical order, GraphQL fulfillment."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Mapping


from adapters.base import (IGNORED_EVENT, ORDER_CHANGED_EVENT, ORDER_DELETED_EVENT, ORDER_EVENT, PRIVACY_EVENT,
                           UNINSTALL_EVENT, DeliveryInfo, NotSupported, PrivacyRequest, ShipmentToWrite, StockResult,
                           StockTarget, StoreContext, WriteBackResult, call_store_api, order_version_key,
                           signature_matches)
from adapters import shopify_polling, shopify_stock
from adapters.shopify_carriers import shopify_carrier
from service.canonical import PAID_FINANCIAL_STATUSES, validate_canonical
from service.jobs.outcomes import NeedsHuman, RetryLater
from service.timeutil import parse_iso_utc, utcnow

ORDER_TOPICS = ("orders/create", "orders/paid", "orders/updated", "orders/cancelled")
PRIVACY_TOPICS = {"customers/redact": "redact_customer", "shop/redact": "redact_shop",
                  "customers/data_request": "report_customer"}
FULFILLABLE_STATUSES = ("OPEN", "IN_PROGRESS")
# Error codes (errors[].extensions.code) that say Shopify failed, not the request: worth another try.
TRANSIENT_GRAPHQL_CODES = {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"}

FULFILLMENT_ORDERS_QUERY = """query OrderFulfillmentOrders($orderId: ID!) {
  order(id: $orderId) {
    id
    name
    displayFulfillmentStatus
    fulfillments(first: 50) {
      id status trackingInfo(first: 10) { company number url }
      fulfillmentLineItems(first: 100) { nodes { quantity lineItem { id } } }
    }
    fulfillmentOrders(first: 20) {
      nodes {
        id
        status
        requestStatus
        fulfillAt
        fulfillmentHolds { reason reasonNotes }
        assignedLocation { name location { id } }
        supportedActions { action }
        lineItems(first: 100) {
          nodes { id sku totalQuantity remainingQuantity lineItem { id sku } }
        }
      }
    }
  }
}"""

FULFILLMENT_CREATE_MUTATION = """mutation CreateFulfillment($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment { id status trackingInfo(first: 10) { company number url } }
    userErrors { field message }
  }
}"""

# The order topics this service handles, as GraphQL's WebhookSubscriptionTopic names them. (The privacy
# topics cannot be created through the API: shopify.app.toml's compliance_topics declares them.)
SUBSCRIBED_TOPICS = ("ORDERS_CREATE", "ORDERS_PAID", "ORDERS_UPDATED", "ORDERS_EDITED", "ORDERS_CANCELLED",
                     "ORDERS_DELETE", "APP_UNINSTALLED")

WEBHOOK_SUBSCRIPTIONS_QUERY = """query AppWebhookSubscriptions {
  webhookSubscriptions(first: 100) {
    nodes { id topic uri }
  }
}"""

WEBHOOK_CREATE_MUTATION = """mutation CreateWebhook($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""

WEBHOOK_UPDATE_MUTATION = """mutation RepointWebhook($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""

TRACKING_UPDATE_MUTATION = """mutation UpdateTracking($fulfillmentId: ID!, $trackingInfoInput: FulfillmentTrackingInput!, $notifyCustomer: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId, trackingInfoInput: $trackingInfoInput, notifyCustomer: $notifyCustomer) {
    fulfillment { id trackingInfo(first: 10) { company number url } }
    userErrors { field message }
  }
}"""


def _str_or_none(value) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None


_MYSHOPIFY = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com")


def _first_present(payload: dict, *keys: str):
    return next((payload[k] for k in keys if payload.get(k) not in (None, "")), None)


class ShopifyAdapter:
    platform = "shopify"
    # Subscriptions can be made through the Admin API (webhookSubscriptionCreate), idempotently.
    can_register_webhooks = True
    domain_is_platform_host = True  # <shop>.myshopify.com, checked by normalize_domain
    # The safety net for a subscription Shopify removed after failed deliveries (adapters/shopify_polling.py).
    supports_polling = True
    cj_platform = "shopify"
    can_set_stock = True
    orders_by_polling = False
    poll_topic = "orders/updated"

    # -- inbound -------------------------------------------------------------------------------
    def identify(self, headers: Mapping[str, str], raw_body: bytes = b"") -> DeliveryInfo:
        return DeliveryInfo(store_domain=headers.get("X-Shopify-Shop-Domain"),
                            topic=(headers.get("X-Shopify-Topic") or "").strip(),
                            delivery_id=headers.get("X-Shopify-Webhook-Id"))

    def unsigned_delivery_topic(self, raw_body: bytes, headers: Mapping[str, str]) -> str | None:
        return None  # every Shopify delivery is signed

    def normalize_domain(self, value: str) -> str:
        value = value.strip().lower()
        for prefix in ("https://", "http://"):
            if value.startswith(prefix):
                value = value[len(prefix):]
        value = value.rstrip("/")
        if not _MYSHOPIFY.fullmatch(value):
            # The shop's API is called at this address with its token: only Shopify's own domains.
            raise ValueError(f"a Shopify shop domain is <shop>.myshopify.com; got {value[:100]!r}")
        return value

    def verify(self, raw_body: bytes, headers: Mapping[str, str], secrets: list[str]) -> bool:
        return signature_matches(raw_body, headers.get("X-Shopify-Hmac-Sha256"), secrets)

    def delivery_keys(self, info: DeliveryInfo, headers: Mapping[str, str], payload) -> list[str]:
        keys = []
        if info.delivery_id:
            keys.append(f"webhook-id:{info.delivery_id.strip()}")
        event_id = headers.get("X-Shopify-Event-Id")
        if event_id:
            # One event reaches each subscribed topic, so an event id is a duplicate only per topic.
            keys.append(f"event-id:{info.topic}:{event_id.strip()}")
        # The headers above are not signed: a captured delivery re-sent with new ids would pass them. This key
        # is made of what the signature covers: the topic, the resource and its own updated_at (or, for bodies
        # without them, the whole body). A replay is a duplicate whatever its headers say.
        if isinstance(payload, dict) and payload.get("id") is not None and payload.get("updated_at"):
            keys.append(f"content:{info.topic}:{payload['id']}:{payload['updated_at']}")
            if info.topic in ORDER_TOPICS:
                # What polling looks for: an order state any webhook already brought is not "missed".
                keys.append(order_version_key(self.order_version(payload), info.topic))
        else:
            digest = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
            keys.append(f"content:{info.topic}:{digest}")
        return keys

    def named_shop(self, payload) -> str | None:
        """The shop a signed body names (privacy requests, the uninstalled shop), if it names one."""
        if not isinstance(payload, dict):
            return None
        named = payload.get("shop_domain") or payload.get("myshopify_domain")
        return str(named) if named else None

    def signed_time(self, payload) -> datetime | None:
        """The time a signed body states for itself (updated_at), if any: older than a re-activation, it is old."""
        try:
            return parse_iso_utc(payload.get("updated_at")) if isinstance(payload, dict) else None
        except (TypeError, ValueError):
            return None

    def event_kind(self, topic: str) -> str:
        if topic in ORDER_TOPICS:
            return ORDER_EVENT
        if topic == "app/uninstalled":
            return UNINSTALL_EVENT
        if topic in PRIVACY_TOPICS:
            return PRIVACY_EVENT
        if topic == "orders/delete":
            return ORDER_DELETED_EVENT
        if topic == "orders/edited":
            return ORDER_CHANGED_EVENT  # its body is the edit, not the order: the order is read whole
        return IGNORED_EVENT

    def deleted_order_id(self, payload: dict) -> str:
        if not isinstance(payload, dict) or payload.get("id") is None:
            raise ValueError("orders/delete payload has no id")
        return str(payload["id"])

    def order_version(self, payload: dict) -> str:
        # In UTC: webhooks state updated_at in the shop's offset (-05:00), GraphQL (polling) in UTC.
        updated = payload.get("updated_at") or ""
        try:
            updated = parse_iso_utc(updated).strftime("%Y-%m-%dT%H:%M:%SZ") if updated else ""
        except (TypeError, ValueError):
            pass
        return f"{payload.get('id')}:{updated}"

    def request_access_token(self, http, *, domain: str, api_base_url: str | None, credentials: dict) -> tuple[str, int]:
        """The client-credentials grant of a Dev Dashboard app owned by the merchant (tokens last ~24 h)."""
        base = (api_base_url or f"https://{domain}").rstrip("/")
        response = call_store_api(
            http, "POST", f"{base}/admin/oauth/access_token", platform="Shopify", operation="accessTokenGrant",
            default_retry_after=5.0, ok=(200, 400),
            auth_resolution="check the app's client id and client secret, and that the app is installed on "
                            "this store, then PATCH /admin/stores/<id> with api_credentials {client_id, "
                            "client_secret} and retry the order.",
            data={"grant_type": "client_credentials", "client_id": credentials.get("client_id"),
                  "client_secret": credentials.get("client_secret")},
            headers={"Accept": "application/json"})
        if response.status_code == 400:  # OAuth's answer to a wrong client id or secret (invalid_client)
            raise NeedsHuman("store_auth_failed", "Shopify refused the client-credentials grant (HTTP 400). "
                             "Resolution: check the app's client id and client secret, and that the app is "
                             "installed on this store, then PATCH /admin/stores/<id> with api_credentials "
                             "{client_id, client_secret} and retry the order.")
        try:
            body = response.json()
            token, expires_in = str(body["access_token"]), int(body.get("expires_in") or 86399)
        except (ValueError, KeyError, TypeError):
            raise RetryLater("Shopify accessTokenGrant: the answer holds no access token") from None
        return token, expires_in

    def changed_order_id(self, payload: dict) -> str:
        edit = payload.get("order_edit") if isinstance(payload, dict) else None
        if not isinstance(edit, dict) or edit.get("order_id") in (None, ""):
            raise ValueError("orders/edited payload has no order_edit.order_id")
        return str(edit["order_id"])

    def fetch_order(self, *, http, store: StoreContext, store_order_id: str) -> dict:
        """The order as its webhooks deliver it, read through GraphQL (orders/edited carries only the edit)."""
        if not any(store.credentials.get(k) for k in ("access_token", "client_id")):
            raise NotSupported("the store has no Admin API credentials (api_credentials) to read the order with")
        return shopify_polling.fetch_order(
            lambda document, variables, operation: self._graphql_body(http, store, document, variables, operation),
            order_gid=f"gid://shopify/Order/{store_order_id}")

    def list_changed_orders(self, *, http, store: StoreContext, since, until) -> list[dict]:
        if not any(store.credentials.get(k) for k in ("access_token", "client_id")):
            raise NotSupported("the store has no Admin API credentials (api_credentials), so it cannot be polled")
        return shopify_polling.changed_orders(
            lambda document, variables, operation: self._graphql_body(http, store, document, variables, operation),
            since=since, until=until)

    def register_webhooks(self, *, http, store: StoreContext, delivery_url: str, secret: str) -> dict:
        """List this app's subscriptions, create the missing order topics, re-point ours left at another address.

        Shopify signs every delivery with the app's client secret, so `secret` is not sent (it is that one).
        The API lists only this app's own subscriptions: one for our topic at another address is ours, from
        an earlier address of this service.
        """
        data = self._graphql(http, store, WEBHOOK_SUBSCRIPTIONS_QUERY, {}, "webhookSubscriptions")
        existing = {}
        for node in (data.get("webhookSubscriptions") or {}).get("nodes") or []:
            existing.setdefault(node.get("topic"), []).append(node)
        created, repointed, present = [], [], []
        for topic in SUBSCRIBED_TOPICS:
            nodes = existing.get(topic) or []
            if any(n.get("uri") == delivery_url for n in nodes):
                present.append(topic)
            elif nodes:
                payload = self._graphql(http, store, WEBHOOK_UPDATE_MUTATION, {
                    "id": nodes[0]["id"], "webhookSubscription": {"uri": delivery_url}},
                    "webhookSubscriptionUpdate").get("webhookSubscriptionUpdate") or {}
                _raise_subscription_errors(payload, "webhookSubscriptionUpdate", topic)
                repointed.append(topic)
            else:
                payload = self._graphql(http, store, WEBHOOK_CREATE_MUTATION, {
                    "topic": topic, "webhookSubscription": {"uri": delivery_url, "format": "JSON"}},
                    "webhookSubscriptionCreate").get("webhookSubscriptionCreate") or {}
                _raise_subscription_errors(payload, "webhookSubscriptionCreate", topic)
                created.append(topic)
        return {"created": created, "reactivated": repointed, "already_present": present}

    def privacy_request(self, topic: str, payload: dict) -> PrivacyRequest:
        ids = payload.get("orders_to_redact") or payload.get("orders_requested") or []
        return PrivacyRequest(action=PRIVACY_TOPICS[topic], store_order_ids=[str(i) for i in ids])

    def normalize(self, payload: dict, *, topic: str) -> dict:
        if not isinstance(payload, dict):
            raise ValueError("order payload must be a JSON object")
        address = payload.get("shipping_address")
        if isinstance(address, dict):
            address = {k: _str_or_none(address.get(k)) for k in (
                "name", "first_name", "last_name", "company", "address1", "address2", "city", "province",
                "province_code", "zip", "country", "country_code", "phone")}
            address["email"] = _str_or_none(payload.get("email") or payload.get("contact_email"))
        else:
            address = None
        lines = []
        for item in payload.get("line_items") or []:
            lines.append({
                "line_id": _str_or_none(item.get("id")),
                "line_ref": _str_or_none(item.get("admin_graphql_api_id")),
                "variant_id": _str_or_none(item.get("variant_id")),
                "product_id": _str_or_none(item.get("product_id")),
                "sku": (item.get("sku") or "").strip() or None,
                "title": _str_or_none(item.get("name") or item.get("title")),
                # current_quantity drops removed/refunded units; absent in older payloads.
                "quantity": item.get("current_quantity", item.get("quantity")),
                "unit_price": _str_or_none(item.get("price")),
                "requires_shipping": bool(item.get("requires_shipping", True)),
            })
        financial_status = _str_or_none(payload.get("financial_status"))
        shipping_set = (payload.get("total_shipping_price_set") or {}).get("shop_money") or {}
        return validate_canonical({
            "platform": self.platform,
            "store_order_id": _str_or_none(payload.get("id")),
            "order_ref": _str_or_none(payload.get("admin_graphql_api_id")),
            "name": _str_or_none(payload.get("name")),
            "currency": _str_or_none(payload.get("currency")),
            # After edits and refunds the current_* totals are what the customer pays (older payloads lack them).
            "total_price": _str_or_none(_first_present(payload, "current_total_price", "total_price")),
            "subtotal_price": _str_or_none(_first_present(payload, "current_subtotal_price", "subtotal_price")),
            "shipping_price": _str_or_none(shipping_set.get("amount")),
            "financial_status": financial_status,
            "paid": financial_status in PAID_FINANCIAL_STATUSES,
            "cancelled": bool(payload.get("cancelled_at")) or topic == "orders/cancelled",
            "refunded": financial_status == "refunded",
            "test": bool(payload.get("test")),
            "email": _str_or_none(payload.get("email") or payload.get("contact_email")),
            "note": _str_or_none(payload.get("note")),
            "lines": lines,
            "shipping_address": address,
            "created_at": _str_or_none(payload.get("created_at")),
            "updated_at": _str_or_none(payload.get("updated_at")),
        })

    # -- outbound ------------------------------------------------------------------------------
    def _graphql(self, http, store: StoreContext, query: str, variables: dict, operation: str) -> dict:
        return self._graphql_body(http, store, query, variables, operation).get("data") or {}

    def _graphql_body(self, http, store: StoreContext, query: str, variables: dict, operation: str) -> dict:
        """The whole answer (data and extensions, such as the query cost) once no error is in it."""
        base = (store.api_base_url or f"https://{store.domain}").rstrip("/")
        token = store.token_source() if store.token_source else store.credentials.get("access_token")
        if not token:
            raise NeedsHuman("store_credentials_missing",
                             f"store {store.domain} has no Admin API access token. Resolution: "
                             "PATCH /admin/stores/<id> with api_credentials.access_token (or client_id and "
                             "client_secret of a Dev Dashboard app), then retry the order.")

        def send(token: str):
            return call_store_api(
                http, "POST", f"{base}/admin/api/{store.api_version}/graphql.json", platform="Shopify",
                operation=operation, default_retry_after=2.0,
                auth_resolution="check the app's credentials and its scopes (read_orders, "
                                "write_merchant_managed_fulfillment_orders), update them with PATCH "
                                "/admin/stores/<id>, then retry the order.",
                json={"query": query, "variables": variables},
                headers={"X-Shopify-Access-Token": token, "Content-Type": "application/json"})
        try:
            response = send(token)
        except NeedsHuman as exc:
            if exc.reason != "store_auth_failed" or store.token_source is None:
                raise
            # A granted token expired early or was revoked: one new grant, one more try.
            response = send(store.token_source(rejected=token))
        try:
            body = response.json()
        except ValueError:
            raise RetryLater(f"Shopify {operation}: response is not JSON") from None
        errors = body.get("errors") or []
        if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors if isinstance(e, dict)):
            raise RetryLater(f"Shopify {operation}: THROTTLED", retry_after=_throttle_wait(body),
                             count_attempt=False)
        if errors:
            codes = sorted({str((e.get("extensions") or {}).get("code") or "error") for e in errors
                            if isinstance(e, dict)}) or ["error"]
            if set(codes) <= TRANSIENT_GRAPHQL_CODES:
                # Shopify's own failure inside a 200 answer: retried with back-off, like an HTTP 5xx.
                raise RetryLater(f"Shopify {operation}: {', '.join(codes)}")
            raise NeedsHuman("writeback_rejected", f"Shopify {operation} answered errors ({', '.join(codes)}). "
                             "Resolution: fix the cause, then retry the order.")
        return body

    def set_stock(self, *, http, store: StoreContext, targets: list[StockTarget], location_id: str | None
                  ) -> list[StockResult]:
        def graphql(document: str, variables: dict, operation: str) -> dict:
            return self._graphql(http, store, document, variables, operation)
        return shopify_stock.set_stock(graphql, store_id=store.store_id, targets=targets, location_id=location_id)

    def write_back(self, *, http, store: StoreContext, order: dict, shipment: ShipmentToWrite) -> WriteBackResult:
        order_gid = order.get("order_ref") or f"gid://shopify/Order/{order['store_order_id']}"
        data = self._graphql(http, store, FULFILLMENT_ORDERS_QUERY, {"orderId": order_gid}, "fulfillmentOrders")
        remote = data.get("order")
        if not remote:
            raise NeedsHuman("writeback_rejected", f"Shopify has no order {order_gid}. Resolution: check the "
                             "store registration; the order may have been deleted.")
        company = shopify_carrier(shipment.carrier, store.carrier_codes) or shipment.carrier
        tracking = {"company": company, "number": shipment.tracking_number, "url": shipment.tracking_url}
        tracking = {k: v for k, v in tracking.items() if v}

        # What this tracking number already fulfilled, per line: a write-back that failed half-way (one
        # location done, another not) is finished on retry, not taken for done because the number exists.
        with_number = [f for f in remote.get("fulfillments") or []
                       if shipment.tracking_number in {t.get("number") for t in f.get("trackingInfo") or []}]
        if with_number and shipment.add_to_fulfillment_id:
            return WriteBackResult("already_present", ",".join(f["id"] for f in with_number))
        done: dict[str, int] = {}
        for fulfillment in with_number:
            for node in (fulfillment.get("fulfillmentLineItems") or {}).get("nodes") or []:
                line_gid = (node.get("lineItem") or {}).get("id")
                done[line_gid] = done.get(line_gid, 0) + int(node.get("quantity") or 0)

        if shipment.add_to_fulfillment_id:
            # Another parcel of lines already fulfilled: every number of the group on that fulfillment.
            numbers = [n for n, _url in shipment.group_tracking] or [shipment.tracking_number]
            urls = [u for _n, u in shipment.group_tracking if u]
            group = {"company": company, "numbers": numbers, "urls": urls}
            updated = None
            for fulfillment_id in shipment.add_to_fulfillment_id.split(","):
                data = self._graphql(http, store, TRACKING_UPDATE_MUTATION, {
                    "fulfillmentId": fulfillment_id, "notifyCustomer": True,
                    "trackingInfoInput": {k: v for k, v in group.items() if v}}, "fulfillmentTrackingInfoUpdate")
                payload = data.get("fulfillmentTrackingInfoUpdate") or {}
                _raise_user_errors(payload, "fulfillmentTrackingInfoUpdate")
                updated = updated or (payload.get("fulfillment") or {}).get("id")
            return WriteBackResult("updated", updated or shipment.add_to_fulfillment_id)

        line_quantities = {gid: qty - done.get(gid, 0) for gid, qty in
                           _shipped_quantities(order, shipment.store_line_ids).items() if qty > done.get(gid, 0)}
        if with_number and not line_quantities:
            return WriteBackResult("already_present", ",".join(f["id"] for f in with_number))
        by_location: dict[str, list[dict]] = {}
        for fo in (remote.get("fulfillmentOrders") or {}).get("nodes") or []:
            actions = {a.get("action") for a in fo.get("supportedActions") or []}
            if fo.get("status") not in FULFILLABLE_STATUSES or "CREATE_FULFILLMENT" not in actions:
                continue
            items = []
            for node in (fo.get("lineItems") or {}).get("nodes") or []:
                line_gid = (node.get("lineItem") or {}).get("id")
                wanted = line_quantities.get(line_gid, 0)
                qty = min(int(node.get("remainingQuantity") or 0), wanted)
                if qty > 0:
                    items.append({"id": node["id"], "quantity": qty})
                    line_quantities[line_gid] = wanted - qty
            if items:
                location = ((fo.get("assignedLocation") or {}).get("location") or {}).get("id") or fo["id"]
                by_location.setdefault(location, []).append(
                    {"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": items})
        if not by_location:
            if with_number:
                return WriteBackResult("already_present", ",".join(f["id"] for f in with_number))
            # Never "done" without the tracking in the store: say why nothing can take it now.
            raise _why_no_fulfillment_order_takes(remote, set(line_quantities), shipment.tracking_number)
        created = [f["id"] for f in with_number]
        for groups in by_location.values():
            variables = {"fulfillment": {"notifyCustomer": True, "trackingInfo": tracking,
                                         "lineItemsByFulfillmentOrder": groups},
                         "message": f"Shipped by supplier (CJ order {order.get('cj_order_id') or ''})".strip()}
            data = self._graphql(http, store, FULFILLMENT_CREATE_MUTATION, variables, "fulfillmentCreate")
            payload = data.get("fulfillmentCreate") or {}
            _raise_user_errors(payload, "fulfillmentCreate")
            created.append((payload.get("fulfillment") or {}).get("id"))
        return WriteBackResult("created", ",".join(c for c in created if c), {"fulfillments": created})


def _shipped_quantities(order: dict, store_line_ids: list[str] | None) -> dict[str, int]:
    """Line gid → quantity to fulfil, for the lines CJ shipped (all forwarded lines if unknown)."""
    wanted = set(store_line_ids) if store_line_ids else None
    out = {}
    for line in order.get("lines") or []:
        if not line.get("requires_shipping", True) or line.get("quantity", 0) <= 0:
            continue
        if wanted is not None and line["line_id"] not in wanted:
            continue
        gid = line.get("line_ref") or f"gid://shopify/LineItem/{line['line_id']}"
        out[gid] = out.get(gid, 0) + int(line["quantity"])
    return out


def _why_no_fulfillment_order_takes(remote: dict, line_gids: set[str], number: str) -> Exception:
    """The retry or hold for lines that no fulfillment order can take tracking for now."""
    holding = []
    for fo in (remote.get("fulfillmentOrders") or {}).get("nodes") or []:
        if any((n.get("lineItem") or {}).get("id") in line_gids and int(n.get("remainingQuantity") or 0) > 0
               for n in (fo.get("lineItems") or {}).get("nodes") or []):
            holding.append(fo)
    for fo in holding:
        if fo.get("status") == "SCHEDULED":
            # A pre-order or a subscription: it opens by itself at fulfillAt.
            wait = 3600.0
            try:
                wait = max(60.0, (parse_iso_utc(fo.get("fulfillAt")) - utcnow()).total_seconds())
            except (TypeError, ValueError):
                pass
            return RetryLater(f"Shopify fulfillment order is scheduled for {fo.get('fulfillAt')}; tracking {number} "
                              "is written then", retry_after=wait, count_attempt=False)
    for fo in holding:
        if fo.get("status") == "ON_HOLD":
            why = "; ".join(f"{h.get('reason')}" + (f": {h.get('reasonNotes')}" if h.get("reasonNotes") else "")
                            for h in fo.get("fulfillmentHolds") or []) or "no reason given"
            return NeedsHuman("fulfillment_on_hold", f"Shopify has this order's fulfillment on hold ({why}), so "
                              f"tracking {number} cannot be added. Resolution: release the hold in Shopify admin "
                              "(the order → Release fulfillment), then POST /admin/orders/<id>/retry.")
    for fo in holding:
        if fo.get("status") in FULFILLABLE_STATUSES:
            location = (fo.get("assignedLocation") or {}).get("name") or "another location"
            return NeedsHuman("fulfillment_not_assigned", f"this order's items are assigned to {location}, which "
                              f"this app cannot fulfil (another fulfillment service or app, or a location outside "
                              f"its scopes), so tracking {number} cannot be added. Resolution: move the items to "
                              "a location you fulfil yourself, or give the app the "
                              "write_merchant_managed_fulfillment_orders scope, then POST /admin/orders/<id>/retry.")
    if holding:
        statuses = ", ".join(sorted({str(fo.get("status")) for fo in holding}))
        return NeedsHuman("writeback_rejected", f"Shopify's fulfillment orders for these items are {statuses}, so "
                          f"tracking {number} cannot be added. Resolution: check the order in Shopify admin, then "
                          "POST /admin/orders/<id>/retry.")
    return NeedsHuman("writeback_rejected", f"Shopify shows these items fulfilled already, without tracking {number} "
                      "(fulfilled in Shopify admin or by another app). Resolution: add the number to that "
                      "fulfillment in Shopify admin, then POST /admin/orders/<id>/retry (it then finds it there).")


FULFILLMENT_RESOLUTION = ("check the order's fulfillment orders in Shopify admin (closed, on hold, or assigned to "
                          "another fulfillment service), fix them, then retry the order.")


def _raise_user_errors(payload: dict, operation: str, *, reason: str = "writeback_rejected",
                       resolution: str = FULFILLMENT_RESOLUTION) -> None:
    errors = payload.get("userErrors") or []
    if errors:
        messages = "; ".join(str(e.get("message")) for e in errors)
        raise NeedsHuman(reason, f"Shopify {operation} refused: {messages}. Resolution: {resolution}")


def _raise_subscription_errors(payload: dict, operation: str, topic: str) -> None:
    _raise_user_errors(payload, f"{operation} ({topic})", reason="webhook_registration_refused",
                       resolution="check PUBLIC_BASE_URL (an https address Shopify can reach) and the app's "
                                  "read_orders scope, then POST /admin/stores/<id>/webhooks again.")


def _throttle_wait(body: dict) -> float:
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        need = float(cost.get("requestedQueryCost") or 0) - float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 50)
        return min(60.0, max(1.0, need / rate))
    except (TypeError, ValueError):
        return 2.0



ADAPTER = ShopifyAdapter()
