"""POST /webhooks/<platform>: store-platform deliveries, handled the same way through each adapter."""
from __future__ import annotations

from flask import request

from adapters import get_adapter
from adapters.base import IGNORED_EVENT, StoreAdapter
from service.web.json_api import ApiError, ok, parse_json
from webhooks import bp
from service.intake.deliveries import Delivery, store_scope
from service.web.context import runtime, settings
from webhooks.intake import kept_headers, read_raw_body


@bp.post("/<platform>")
def store_webhook(platform: str):
    try:
        adapter = get_adapter(platform)
    except KeyError:
        raise ApiError(404, "unknown_platform", f"no webhook endpoint for {platform!r}") from None
    return receive_store_webhook(adapter)


def receive_store_webhook(adapter: StoreAdapter):
    raw = read_raw_body(settings().max_webhook_bytes)
    unsigned_topic = adapter.unsigned_delivery_topic(raw, request.headers)
    if unsigned_topic:
        return record_unsigned(adapter, unsigned_topic, raw)
    info = adapter.identify(request.headers)
    if not info.store_domain:
        raise ApiError(401, "unknown_store", "the delivery does not say which store sent it")
    try:
        domain = adapter.normalize_domain(info.store_domain)
    except ValueError:
        raise ApiError(401, "unknown_store", "the delivery's store header is not a valid address") from None
    rt = runtime()
    store = rt.stores.find(adapter.platform, domain)
    if store is None:
        raise ApiError(401, "unknown_store", f"no {adapter.platform} store is registered for {domain}")
    if not adapter.verify(raw, request.headers, list(store.secrets)):
        raise ApiError(401, "invalid_signature", "the delivery's signature is missing or does not match "
                       "the store's webhook secret")
    payload = parse_json(raw)
    if not info.topic:
        raise ApiError(400, "missing_topic", "the delivery does not name its topic")
    kind = adapter.event_kind(info.topic)
    stored = rt.deliveries.store(Delivery(
        source=adapter.platform, scope=store_scope(adapter.platform, store.id), store_id=store.id,
        topic=info.topic, delivery_id=info.delivery_id, raw_body=raw, headers=kept_headers(),
        keys=tuple(adapter.delivery_keys(info, request.headers, payload)),
        job_kind=None if kind == IGNORED_EVENT else "process_event"))
    if stored.duplicate:
        return ok({"status": "duplicate"})
    return ok({"status": "ignored" if kind == IGNORED_EVENT else "accepted", "event_id": stored.event_id})


def record_unsigned(adapter: StoreAdapter, topic: str, raw: bytes):
    """A delivery the platform sends unsigned by design: recorded, never acted on, answered 200."""
    stored = runtime().deliveries.store(Delivery(
        source=adapter.platform, scope=f"{adapter.platform}:unsigned", store_id=None, topic=topic,
        delivery_id=None, raw_body=raw[:200], headers=kept_headers(), keys=(), job_kind=None))
    return ok({"status": "ignored", "topic": topic, "event_id": stored.event_id})
