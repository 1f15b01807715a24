"""POST /webhooks/<platform>: store-platform deliveries, handled the same way through each adapter."""
from __future__ import annotations

import logging

from flask import request

from adapters import get_adapter
from adapters.base import IGNORED_EVENT, StoreAdapter
from service.web.json_api import ApiError, ok, parse_json
from webhooks import bp
from service.intake.deliveries import Delivery, store_scope
from service.web.context import runtime, settings
from webhooks.intake import kept_headers, read_raw_body
from webhooks import platform_notices
from webhooks.rejections import note_rejection


log = logging.getLogger("cj_bridge.webhooks")


@bp.post("/<platform>")
def store_webhook(platform: str):
    adapter = _adapter(platform)
    if getattr(adapter, "notices_signed_by_platform", False):
        return platform_notices.receive_platform_notice(adapter, platform)
    return receive_store_webhook(adapter)


@bp.get("/<platform>")
def platform_endpoint_check(platform: str):
    adapter = _adapter(platform)
    if not getattr(adapter, "notices_signed_by_platform", False):
        raise ApiError(405, "method_not_allowed", f"{platform} deliveries are POSTed")
    return platform_notices.answer_challenge(adapter, platform)


def _adapter(platform: str) -> StoreAdapter:
    try:
        return get_adapter(platform)
    except KeyError:
        raise ApiError(404, "unknown_platform", f"no webhook endpoint for {platform!r}") from None


def receive_store_webhook(adapter: StoreAdapter):
    source = request.access_route[0] if request.access_route else "unknown"
    rt = runtime()
    if rt.unproven_sources.blocked(source):
        note_rejection("too_many_unverified_requests", source=source)
        raise ApiError(429, "too_many_unverified_requests", "too many requests that could not be verified from "
                       "this address; try again in a minute")
    raw = read_raw_body(settings().max_webhook_bytes)
    unsigned_topic = adapter.unsigned_delivery_topic(raw, request.headers)
    if unsigned_topic:
        # Answered as the platform expects, and nothing stored: anyone can send such a request.
        rt.unproven_sources.failed(source)
        log.info("webhook_unsigned_answered", extra={"fields": {"platform": adapter.platform, "topic": unsigned_topic}})
        return ok({"status": "ignored", "topic": unsigned_topic})
    info = adapter.identify(request.headers, raw)
    domain = None
    if info.store_domain:
        try:
            domain = adapter.normalize_domain(info.store_domain)
        except ValueError:
            domain = None
    store = rt.stores.find(adapter.platform, domain) if domain else None
    if store is None or not adapter.verify(raw, request.headers, list(store.secrets)):
        # One answer whatever failed, so it does not tell which shops are registered; the log says which.
        rt.unproven_sources.failed(source)
        reason = "no_store_named" if not info.store_domain else "unknown_store" if store is None \
            else "invalid_signature"
        note_rejection(reason, shop_domain=domain)
        raise ApiError(401, "unverified", "the delivery could not be verified as coming from a registered store: "
                       "check the store's registration and its webhook secret")
    payload = parse_json(raw)
    named = adapter.named_shop(payload)
    if named is not None and _normalized(adapter, named) != domain:
        # Signed with a secret this store shares with another (one app, several shops): the body says which.
        rt.unproven_sources.failed(source)
        note_rejection("shop_mismatch", shop_domain=domain)
        raise ApiError(401, "unverified", "the delivery could not be verified as coming from a registered store: "
                       "check the store's registration and its webhook secret")
    if not info.topic:
        raise ApiError(400, "missing_topic", "the delivery does not name its topic")
    kind = adapter.event_kind(info.topic)
    stored = rt.deliveries.store(Delivery(
        source=adapter.platform, scope=store_scope(adapter.platform, store.id), store_id=store.id,
        topic=info.topic, delivery_id=info.delivery_id, raw_body=raw, headers=kept_headers(),
        keys=tuple(adapter.delivery_keys(info, request.headers, payload)),
        job_kind=None if kind == IGNORED_EVENT else "process_event"))
    if getattr(adapter, "empty_acknowledgement", False):
        return "", 200  # the platform's contract (TikTok Shop): 200, empty body
    if stored.duplicate:
        return ok({"status": "duplicate"})
    return ok({"status": "ignored" if kind == IGNORED_EVENT else "accepted", "event_id": stored.event_id})


def _normalized(adapter: StoreAdapter, value: str) -> str | None:
    try:
        return adapter.normalize_domain(value)
    except ValueError:
        return None
