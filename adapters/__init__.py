"""Store-platform adapters, looked up by platform name.

Every module in this package that defines ADAPTER is registered: adding a platform is adding a module.
"""
from __future__ import annotations

import importlib
import pkgutil

from adapters.base import StoreAdapter


def _discover() -> dict[str, StoreAdapter]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        adapter = getattr(module, "ADAPTER", None)
        if adapter is not None:
            found[adapter.platform] = adapter
    return found


_ADAPTERS: dict[str, StoreAdapter] = _discover()


def get_adapter(platform: str) -> StoreAdapter:
    try:
        return _ADAPTERS[platform]
    except KeyError:
        raise KeyError(f"unknown platform {platform!r}; known: {', '.join(sorted(_ADAPTERS))}") from None


def platforms() -> list[str]:
    return sorted(_ADAPTERS)
