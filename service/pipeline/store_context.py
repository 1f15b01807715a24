"""What an adapter needs to call a store's API, built from the store row (credentials decrypted)."""
from __future__ import annotations

from adapters.base import StoreContext
from service.storage.models import Store
from service.runtime import Runtime
from service.pipeline import store_tokens


def store_context(store: Store, runtime: Runtime) -> StoreContext:
    credentials = runtime.box.open_json(store.credentials_enc)
    # A granted token is fetched when the adapter calls, not here: callers hold a transaction now.
    source = store_tokens.token_source(runtime, store_id=store.id) if store_tokens.uses_grant(credentials) else None
    return StoreContext(store_id=store.id, domain=store.domain, api_base_url=store.api_base_url,
                        credentials={k: v for k, v in credentials.items() if k not in store_tokens.INTERNAL_KEYS},
                        api_version=runtime.settings.shopify_api_version,
                        adapter_state=dict(store.adapter_state or {}), token_source=source,
                        carrier_codes=dict(runtime.settings.carrier_codes.get(store.platform, {})))
