"""Store webhooks through the store's API: queue the registration (admin), then register_store_webhooks (worker)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from adapters import get_adapter
from adapters.base import NotSupported
from service.jobs.outcomes import NeedsHuman
from service.jobs.queue import enqueue
from service.storage.models import Job, Store
from service.pipeline.store_context import store_context
from service.runtime import Runtime
from service.timeutil import iso, utcnow


class NotRegistrable(ValueError):
    """The store's webhooks cannot be registered from here now: code is not_supported or public_url_missing."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def queue_webhook_registration(session: Session, *, store: Store, public_base_url: str) -> Job:
    """Queue register_webhooks for the store (the worker makes the calls); the caller commits."""
    if not get_adapter(store.platform).can_register_webhooks:
        raise NotRegistrable("not_supported", f"{store.platform} webhooks cannot be created from here; "
                             "see the README's section on that platform")
    if not public_base_url:
        raise NotRegistrable("public_url_missing", "set PUBLIC_BASE_URL to this service's public https:// "
                             "address first: it is where the store will send its webhooks")
    return enqueue(session, kind="register_webhooks", payload={"store_id": store.id},
                   dedupe_key=f"register_webhooks:{store.id}")


def register_store_webhooks(session: Session, *, store_id: int, runtime: Runtime) -> dict:
    store = session.get(Store, store_id)
    if store is None:
        raise NeedsHuman("store_missing", f"store {store_id} no longer exists")
    if not runtime.settings.public_base_url:
        raise NeedsHuman("public_url_missing", "PUBLIC_BASE_URL is not set, so the webhook address is unknown. "
                         "Resolution: set PUBLIC_BASE_URL to the service's public https:// address and retry.")
    delivery_url = f"{runtime.settings.public_base_url}/webhooks/{store.platform}"
    secret = runtime.box.open(store.webhook_secret_enc)
    context = store_context(store, runtime)
    session.commit()
    try:
        result = get_adapter(store.platform).register_webhooks(http=runtime.http, store=context,
                                                               delivery_url=delivery_url, secret=secret)
    except NotSupported as exc:
        raise NeedsHuman("not_supported", f"{exc}.") from None
    store = session.get(Store, store_id)
    store.adapter_state = dict(store.adapter_state or {}, webhook_registration={
        "at": iso(utcnow()), "delivery_url": delivery_url, **result})
    return result
