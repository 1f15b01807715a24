"""Platform notices signed with the platform's own keys (eBay's account deletion): keys, and what notices ask.

The web process never calls out: a notice signed with a key id we do not hold yet is answered 503 and the
key is fetched here, in the worker (eBay sends the notice again until it is acknowledged). A verified
notice is stored like any delivery; `process_platform_notice` then does what it asks: erasing a user's
data means every order of that buyer, in every store of the platform, is redacted (as a store's own
customers/redact request does).
"""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters import get_adapter
from service.intake import json_body
from service.jobs.outcomes import NeedsHuman
from service.jobs.queue import enqueue
from service.storage.models import Order, PlatformPublicKey, Store, WebhookEvent
from service.pipeline import privacy
from service.runtime import Runtime
from service.timeutil import utcnow

log = logging.getLogger("cj_bridge.pipeline")


def known_key(session: Session, *, platform: str, kid: str) -> PlatformPublicKey | None:
    return session.get(PlatformPublicKey, (platform, kid))


def request_key(session: Session, *, platform: str, kid: str) -> None:
    """Queue the fetch of a key (once however many notices name it); the caller commits."""
    enqueue(session, kind="fetch_platform_key", payload={"platform": platform, "kid": kid},
            dedupe_key=f"fetch_platform_key:{platform}:{kid}"[:200])


def verification_token(session: Session, *, platform: str, runtime: Runtime) -> str | None:
    """The endpoint verification token: the webhook secret the platform's stores were registered with."""
    store = session.scalar(select(Store).where(Store.platform == platform, Store.active.is_(True))
                           .order_by(Store.id).limit(1))
    return runtime.box.open(store.webhook_secret_enc) if store is not None else None


def _read_order_now(session: Session, *, event: WebhookEvent, adapter, order_id: str, runtime: Runtime) -> str:
    """An order-confirmation hint: read that order from the store(s) now, instead of at the next poll."""
    from service.pipeline.polling import store_order_states
    from service.pipeline.store_context import store_context
    event_id, platform = event.id, event.source
    stores = [(s.id, store_context(s, runtime)) for s in session.scalars(
        select(Store).where(Store.platform == platform, Store.active.is_(True)).order_by(Store.id))]
    session.commit()  # no transaction stays open across the store calls
    found = None
    for store_id, context in stores:
        try:
            payload = adapter.fetch_order(http=runtime.http, store=context, store_order_id=order_id)
        except NeedsHuman:
            continue  # not this seller's order (404), or this store cannot be read
        new = store_order_states(session, store=session.get(Store, store_id), adapter=adapter, payloads=[payload])
        found = f"order {order_id} of store {store_id}: {len(new)} new state(s)"
        break
    event = session.get(WebhookEvent, event_id)
    event.status, event.processed_at = "processed", utcnow()
    event.note = found or f"no {platform} store could read order {order_id}; the next poll looks again"
    return event.note


def fetch_platform_key(session: Session, *, platform: str, kid: str, runtime: Runtime) -> str:
    if known_key(session, platform=platform, kid=kid) is not None:
        return "already_known"
    credentials, base = {}, None
    for store in session.scalars(select(Store).where(Store.platform == platform).order_by(Store.id)):
        credentials = runtime.box.open_json(store.credentials_enc)
        base = store.api_base_url
        if credentials.get("client_id"):
            break
    session.commit()  # no transaction stays open across the platform call
    pem, digest = get_adapter(platform).fetch_public_key(runtime.http, api_base_url=base, credentials=credentials,
                                                         kid=kid)
    if known_key(session, platform=platform, kid=kid) is None:
        session.add(PlatformPublicKey(platform=platform, kid=kid, key_pem=pem, digest=digest, fetched_at=utcnow()))
    return "fetched"


def process_platform_notice(session: Session, *, event_id: int, runtime: Runtime | None = None) -> str:
    event = session.get(WebhookEvent, event_id)
    if event is None or event.status != "queued":
        return "already_processed"
    adapter = get_adapter(event.source)
    try:
        notice = adapter.notice(json_body.loads(event.raw_body))
    except ValueError as exc:
        event.status, event.note, event.processed_at = "rejected", str(exc)[:2000], utcnow()
        return "rejected"
    if notice["kind"] == "poll_order":
        return _read_order_now(session, event=event, adapter=adapter, order_id=notice["order_id"], runtime=runtime)
    erased = 0
    if notice["kind"] == "erase_user" and notice["user_refs"]:
        refs = set(notice["user_refs"])
        for store in session.scalars(select(Store).where(Store.platform == event.source)):
            ids = [o.platform_order_id for o in session.scalars(select(Order).where(Order.store_id == store.id))
                   if (o.canonical or {}).get("customer_ref") in refs]
            erased += privacy.redact_orders(session, store=store, store_order_ids=ids)
    event.raw_body = b"{}"  # the notice itself names the user
    event.status, event.processed_at = "processed", utcnow()
    event.note = f"{notice['kind']}: {erased} order(s) redacted"
    log.info("platform_notice_processed", extra={"fields": {"event_id": event.id, "platform": event.source,
                                                             "kind": notice["kind"], "orders": erased}})
    return event.note
