"""The interface every store-platform adapter implements, and the values it exchanges."""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Callable, Mapping, Protocol

import requests
from itsdangerous.signer import HMACAlgorithm

from service.jobs.outcomes import NeedsHuman, RetryLater
from service.outbound_http import refused_private_address

# Event kinds an adapter can assign to a topic.
ORDER_EVENT = "order"
UNINSTALL_EVENT = "uninstalled"
IGNORED_EVENT = "ignored"
PRIVACY_EVENT = "privacy"  # customer data request / customer redaction / shop redaction
ORDER_DELETED_EVENT = "order_deleted"  # the payload names the order only (WooCommerce order.deleted)
ORDER_CHANGED_EVENT = "order_changed"  # the payload names a changed order, read whole from the store (orders/edited)


@dataclass(frozen=True)
class DeliveryInfo:
    """What the request headers say about a delivery, before the signature is checked."""
    store_domain: str | None
    topic: str
    delivery_id: str | None


@dataclass(frozen=True)
class PrivacyRequest:
    action: str  # redact_customer, redact_shop, report_customer
    store_order_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoreContext:
    """What an adapter needs to call a store's API: decrypted credentials included."""
    store_id: int
    domain: str
    api_base_url: str | None
    credentials: dict
    api_version: str
    adapter_state: dict = field(default_factory=dict)  # facts the adapter learned about this store
    # For stores whose token comes from a grant: token_source() → the current token; token_source(rejected=t)
    # after the API refused t. None: the credentials hold the token itself.
    token_source: Callable[..., str] | None = field(default=None, compare=False, repr=False)
    # The merchant's own CJ logistic name → carrier code entries (CARRIER_CODES), before the adapter's table.
    carrier_codes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ShipmentToWrite:
    tracking_number: str
    carrier: str | None
    tracking_url: str | None
    store_line_ids: list[str] | None  # None = every line we sent to CJ
    # Set when this number is another parcel of lines already fulfilled: the number is added to that
    # fulfillment (which then carries every number of group_tracking), never swapped for the earlier one.
    add_to_fulfillment_id: str | None = None
    group_tracking: list[tuple[str, str | None]] = field(default_factory=list)  # (number, url), oldest first
    final: bool = True  # after this one, every line of the order has shipped


@dataclass
class WriteBackResult:
    outcome: str  # created, updated, already_present, nothing_to_fulfill
    fulfillment_id: str | None
    details: dict = field(default_factory=dict)
    adapter_state: dict | None = None  # when set, stored as the store's new adapter_state


@dataclass(frozen=True)
class StockTarget:
    """One mapped store variant and the quantity the store should show (CJ's stock less the buffer)."""
    mapping_id: int
    store_variant_id: str | None
    store_sku: str | None
    quantity: int | None  # None: the stock is not to be written (only the price)
    ref: dict = field(default_factory=dict)  # the adapter's ids for it, as it returned them last time
    price: Decimal | None = None  # the pricing rule's price in the store's currency; None: never touched
    currency: str | None = None  # the pricing rule's currency (a store selling in another one is not written)


@dataclass
class StockResult:
    mapping_id: int
    # written; unchanged (the store shows it already); store_changed (the store's figure moved while we wrote:
    # left as the store has it); skipped (cannot be written, detail says why and the Resolution); deferred (the
    # store limits how often it may be written: the decision waits until retry_at)
    outcome: str
    store_quantity: int | None  # what the store shows now, as far as we know
    detail: str = ""
    ref: dict = field(default_factory=dict)
    store_price: Decimal | None = None  # the price the store shows now, when a price was asked for
    price_error: str = ""  # the store refused the price (the stock result above stands), with the Resolution
    retry_at: datetime | None = None  # outcome "deferred": the store limits writes; the decision waits until then


class NotSupported(Exception):
    """The platform has no such capability (e.g. Shopify subscriptions live in the app's TOML)."""


class StoreAdapter(Protocol):
    platform: str

    can_register_webhooks: bool  # register_webhooks works
    domain_is_platform_host: bool  # the store's domain is the platform's own host (no address check needed)
    supports_polling: bool  # list_changed_orders works (a safety net for platforms that drop webhooks)
    poll_topic: str | None  # the topic a polled order state is processed under
    orders_by_polling: bool  # polling is how orders come in (no order webhook): its finds are not "missed"
    cj_platform: str  # createOrderV2 `platform`, spelled as CJ's list spells it (cj-api.md, Appendix 3)
    can_set_stock: bool  # set_stock works (stock sync writes this platform's inventory)

    def identify(self, headers: Mapping[str, str], raw_body: bytes = b"") -> DeliveryInfo:
        """Read store, topic and delivery id from the delivery (its headers; TikTok's body)."""

    def unsigned_delivery_topic(self, raw_body: bytes, headers: Mapping[str, str]) -> str | None:
        """A topic for requests the platform sends unsigned by design (WooCommerce's ping), else None."""

    def normalize_domain(self, value: str) -> str:
        """Canonical form of a store's domain or site URL, as stored in Store.domain (ValueError if none)."""

    def verify(self, raw_body: bytes, headers: Mapping[str, str], secrets: list[str]) -> bool:
        """True when the delivery is signed by one of the store's secrets (constant time)."""

    def delivery_keys(self, info: DeliveryInfo, headers: Mapping[str, str], payload) -> list[str]:
        """Keys that identify a repeat of this delivery; any one already seen means duplicate."""

    def event_kind(self, topic: str) -> str:
        """ORDER_EVENT, UNINSTALL_EVENT, PRIVACY_EVENT or IGNORED_EVENT."""

    def named_shop(self, payload) -> str | None:
        """The store a signed body names (a domain), or None; if it names one, it must be the delivery's store."""

    def signed_time(self, payload) -> datetime | None:
        """The time a signed body states for itself, if any (an uninstall older than a re-activation: a replay)."""

    def privacy_request(self, topic: str, payload: dict) -> "PrivacyRequest":
        """What a privacy event asks for (only called for PRIVACY_EVENT topics)."""

    def normalize(self, payload: dict, *, topic: str) -> dict:
        """Turn a platform order payload into a canonical order dict (see service.canonical)."""

    def deleted_order_id(self, payload: dict) -> str:
        """The store order id an ORDER_DELETED_EVENT payload names."""

    def changed_order_id(self, payload: dict) -> str:
        """The store order id an ORDER_CHANGED_EVENT payload names (ValueError if none)."""

    def order_version(self, payload: dict) -> str:
        """'<order id>:<modified time>': one state of one order, for matching polls to webhooks."""

    def request_access_token(self, http, *, domain: str, api_base_url: str | None, credentials: dict) -> tuple:
        """(token, seconds it lasts[, credentials the grant replaced]) from the platform's grant (client
        credentials, or a refresh token; TikTok Shop rotates the refresh token)."""

    def fetch_order(self, *, http, store: StoreContext, store_order_id: str) -> dict:
        """The order's current payload from the store's API (for payloads that arrive incomplete)."""

    def list_changed_orders(self, *, http, store: StoreContext, since, until) -> list[dict]:
        """Order payloads modified in [since, until) (UTC), every page; only if supports_polling."""

    def register_webhooks(self, *, http, store: StoreContext, delivery_url: str, secret: str) -> dict:
        """Create the order webhooks the store lacks (idempotent); raises NotSupported if not possible."""

    def write_back(self, *, http, store: StoreContext, order: dict, shipment: ShipmentToWrite) -> WriteBackResult:
        """Put tracking on the store order; must check what the store already has first."""

    def set_stock(self, *, http, store: StoreContext, targets: list[StockTarget], location_id: str | None
                  ) -> list[StockResult]:
        """Make the store show each target's quantity (and price, when one is given), reading the store's figures
        first (never a blind write); one result per target. Raises NotSupported where the platform has no such
        write (can_set_stock)."""


def optional_int(value) -> int | None:
    """A store API's number (an int, or its digits as text), or None for anything else (absent, empty, junk)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def order_version_key(version: str, topic: str) -> str:
    """Dedupe key of one order state delivered under one topic; polling matches on the topic-less prefix."""
    return f"order-version:{version}:{topic}"


def b64_hmac_sha256(secret: str, raw_body: bytes) -> str:
    """Base64 HMAC-SHA256, computed with itsdangerous' HMAC signing primitive."""
    digest = HMACAlgorithm(hashlib.sha256).get_signature(secret.encode("utf-8"), raw_body)
    return base64.b64encode(digest).decode("ascii")


def signature_matches(raw_body: bytes, header_value: str | None, secrets: list[str]) -> bool:
    """Constant-time check of a base64 HMAC-SHA256 header against each candidate secret."""
    if not header_value:
        return False
    presented = header_value.strip().encode("ascii", "replace")
    matched = False
    for secret in secrets:
        if secret:
            # Evaluate every secret so timing does not reveal which one matched.
            matched |= hmac.compare_digest(b64_hmac_sha256(secret, raw_body).encode("ascii"), presented)
    return matched


def call_store_api(http, method: str, url: str, *, platform: str, operation: str, auth_resolution: str,
                   default_retry_after: float, ok=(200,), **kwargs) -> requests.Response:
    """One store API call, its failures turned into job outcomes the same way for every platform.

    Transport errors and 5xx retry; 429 waits (Retry-After) without using an attempt; 401/403 and
    other refusals need a human, with a resolution.
    """
    try:
        response = http.request(method, url, service=platform.lower(), operation=operation, **kwargs)
    except requests.RequestException as exc:
        if refused_private_address(exc):
            raise NeedsHuman("store_address_refused", f"{platform} {operation}: the store's address leads to a "
                             "private or reserved network address, which is never called. Resolution: correct the "
                             "store's domain or api_base_url (PATCH /admin/stores/<id>), then retry.") from None
        raise RetryLater(f"{platform} {operation}: {type(exc).__name__}") from None
    if 300 <= response.status_code < 400:
        raise NeedsHuman("writeback_rejected", f"{platform} {operation}: HTTP {response.status_code}, a redirect, "
                         "which is not followed (it would carry the store's credentials elsewhere). Resolution: "
                         "register the store's final address (PATCH /admin/stores/<id>), then retry.")
    if response.status_code == 429:
        try:
            wait = max(0.0, float(response.headers.get("Retry-After")))
        except (TypeError, ValueError):
            wait = default_retry_after
        raise RetryLater(f"{platform} {operation}: HTTP 429", retry_after=wait, count_attempt=False)
    if response.status_code in (401, 403):
        refused = NeedsHuman("store_auth_failed", f"{platform} answered HTTP {response.status_code} to {operation}. "
                             f"Resolution: {auth_resolution}")
        refused.http_status = response.status_code  # 401: the token (a new one may do); 403: what it may do
        raise refused
    if response.status_code >= 500:
        raise RetryLater(f"{platform} {operation}: HTTP {response.status_code}")
    if response.status_code not in ok:
        # The answer's body is not quoted: it is the store's (or whatever the address reached), not ours to show.
        raise NeedsHuman("writeback_rejected", f"{platform} {operation}: HTTP {response.status_code}. Resolution: "
                         "look at the store's logs for this request, fix the cause, then retry the order.")
    return response


def json_object(response: requests.Response, *, platform: str, operation: str) -> dict:
    """A store API answer's JSON object ({} for any other JSON); an answer that is not JSON is retried."""
    try:
        body = response.json()
    except ValueError:
        raise RetryLater(f"{platform} {operation}: the answer is not JSON") from None
    return body if isinstance(body, dict) else {}
