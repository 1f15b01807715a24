"""register_store_webhooks: create the store's order webhooks through its API (idempotent)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from adapters import get_adapter
from adapters.base import NotSupported
from service.jobs.outcomes import NeedsHuman
from service.storage.models import Store
from service.pipeline.store_context import store_context
from service.runtime import Runtime
from service.timeutil import iso, utcnow


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
