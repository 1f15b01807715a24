"""What an adapter needs to call a store's API, built from the store row (credentials decrypted)."""
from __future__ import annotations

from adapters.base import StoreContext
from service.storage.models import Store
from service.runtime import Runtime


def store_context(store: Store, runtime: Runtime) -> StoreContext:
    return StoreContext(store_id=store.id, domain=store.domain, api_base_url=store.api_base_url,
                        credentials=runtime.box.open_json(store.credentials_enc),
                        api_version=runtime.settings.shopify_api_version,
                        adapter_state=dict(store.adapter_state or {}))
