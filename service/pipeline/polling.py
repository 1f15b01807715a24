"""Store polling: order states no webhook brought are fed through the webhook path (a safety net)."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters import get_adapter
from adapters.base import NotSupported, order_version_key
from service.jobs.outcomes import NeedsHuman
from service.intake.deliveries import Delivery, store_deliveries, store_scope
from service.jobs.queue import enqueue
from service.storage.models import DeliveryKey, Store
from service.pipeline.store_context import store_context
from service.runtime import Runtime
from service.timeutil import utcnow

log = logging.getLogger("cj_bridge.pipeline")
# A store whose webhooks missed an order state this recently is reported as looking disabled.
MISS_REPORT_WINDOW = timedelta(hours=24)
FIRST_POLL_LOOKBACK = timedelta(hours=24)
POLL_NEEDS_ATTENTION = "needs attention: "


def enqueue_store_polls(session: Session) -> int:
    """Periodic: one poll_store job per active store on a platform that can be polled."""
    count = 0
    for store in session.scalars(select(Store).where(Store.active.is_(True))):
        if get_adapter(store.platform).supports_polling:
            enqueue(session, kind="poll_store", payload={"store_id": store.id}, dedupe_key=f"poll_store:{store.id}")
            count += 1
    return count


def poll_store(session: Session, *, store_id: int, runtime: Runtime) -> str:
    """List orders modified since the cursor and ingest each state that no delivery brought.

    The window ends WEBHOOK_GRACE_MINUTES ago: a younger change may still arrive by webhook.
    """
    store = session.get(Store, store_id)
    if store is None or not store.active:
        return "inactive"
    adapter = get_adapter(store.platform)
    now = utcnow()
    until = now - timedelta(minutes=runtime.settings.webhook_grace_minutes)
    since = store.poll_cursor or store.created_at
    if until <= since:
        return "window_empty"
    if store.poll_cursor is None:
        # A store's first poll reaches back a day at most: polling switched on for a store registered long
        # ago must not send months-old orders to CJ (later polls go on from the cursor, however far back).
        since = max(since, until - FIRST_POLL_LOOKBACK)
    context = store_context(store, runtime)
    session.commit()  # no transaction stays open across the store call
    try:
        payloads = adapter.list_changed_orders(http=runtime.http, store=context, since=since, until=until)
    except NotSupported as exc:
        outcome = f"not polled: {exc}"
        store = session.get(Store, store_id)
        store.last_poll_result = outcome[:255]
        return outcome
    except NeedsHuman as exc:
        # The store itself needs someone (a refused refresh token, say): said on the store and in /readyz,
        # and the next poll tries again; no order is involved.
        session.rollback()
        outcome = f"{POLL_NEEDS_ATTENTION}{exc.reason}: {exc}"
        store = session.get(Store, store_id)
        store.last_poll_result = outcome[:255]
        log.warning("store_poll_needs_attention", extra={"fields": {"store_id": store_id, "reason": exc.reason}})
        return outcome
    missed = store_order_states(session, store=store, adapter=adapter, payloads=payloads)
    store = session.get(Store, store_id)
    store.poll_cursor = until
    store.last_polled_at = now
    if missed and not adapter.orders_by_polling:  # where polling is the way in, nothing was "missed"
        store.webhook_misses = (store.webhook_misses or 0) + len(missed)
        store.last_webhook_miss_at = now
        log.warning("webhooks_missed_orders", extra={"fields": {"store_id": store.id, "count": len(missed)}})
    outcome = f"polled {len(payloads)} order(s), {len(missed)} not brought by any webhook"
    store.last_poll_result = outcome[:255]
    return outcome


def store_order_states(session: Session, *, store: Store, adapter, payloads: list[dict]) -> list[str]:
    """Store each order state not seen yet as a delivery with its job (the webhook path); returns their versions.

    Commits the caller's session first: the deliveries are written on their own connection.
    """
    scope = store_scope(store.platform, store.id)
    unseen = []
    for payload in payloads:
        version = adapter.order_version(payload)
        seen = session.scalar(select(DeliveryKey.id).where(
            DeliveryKey.scope == scope, DeliveryKey.key.like(order_version_key(version, "") + "%")).limit(1))
        if not seen:
            unseen.append((version, Delivery(
                source=store.platform, scope=scope, store_id=store.id, topic=adapter.poll_topic, delivery_id=None,
                raw_body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(),
                headers={"X-CJ-Bridge-Source": "poll"}, keys=(order_version_key(version, "poll"),),
                job_kind="process_event")))
    session.commit()
    stored = store_deliveries(session.bind, [delivery for _, delivery in unseen])
    return [version for (version, _), result in zip(unseen, stored) if not result.duplicate]


def webhook_health(store: Store) -> dict:
    looks_disabled = bool(store.last_webhook_miss_at and utcnow() - store.last_webhook_miss_at < MISS_REPORT_WINDOW)
    return {"polled": get_adapter(store.platform).supports_polling, "last_polled_at": store.last_polled_at,
            "poll_cursor": store.poll_cursor, "last_poll_result": store.last_poll_result,
            "poll_needs_attention": (store.last_poll_result or "").startswith(POLL_NEEDS_ATTENTION),
            "orders_only_polling_found": store.webhook_misses or 0,
            "last_miss_at": store.last_webhook_miss_at, "webhooks_look_disabled": looks_disabled}
