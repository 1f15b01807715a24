"""Store-platform adapters, looked up by platform name."""
from __future__ import annotations

from adapters.base import StoreAdapter
from adapters.shopify import ShopifyAdapter

_ADAPTERS: dict[str, StoreAdapter] = {a.platform: a for a in (ShopifyAdapter(),)}


def get_adapter(platform: str) -> StoreAdapter:
    try:
        return _ADAPTERS[platform]
    except KeyError:
        raise KeyError(f"unknown platform {platform!r}; known: {', '.join(sorted(_ADAPTERS))}") from None


def platforms() -> list[str]:
    return sorted(_ADAPTERS)
