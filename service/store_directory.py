"""Which store a delivery comes from, and its webhook secrets: cached briefly per process.

Every webhook needs this before anything else; a query plus two decryptions per delivery showed up in
bench/ingest.py. Entries live STORE_CACHE_SECONDS; admin changes in this process drop them at once,
other processes see them within that time (a delivery refused meanwhile is retried by the platform).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.credential_box import CredentialBox
from service.models import Store

STORE_CACHE_SECONDS = 10.0
MISSING_CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class KnownStore:
    id: int
    secrets: tuple[str, ...]


class StoreDirectory:
    def __init__(self, session_factory: sessionmaker[Session], box: CredentialBox):
        self.session_factory = session_factory
        self.box = box
        self._cache: dict[tuple[str, str], tuple[float, KnownStore | None]] = {}
        self._lock = threading.Lock()

    def find(self, platform: str, domain: str) -> KnownStore | None:
        key = (platform, domain)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.session_factory() as session:
            store = session.scalar(select(Store).where(Store.platform == platform, Store.domain == domain))
            known = None if store is None else KnownStore(id=store.id, secrets=tuple(
                s for s in (self.box.open(store.webhook_secret_enc), self.box.open(store.previous_webhook_secret_enc))
                if s))
        ttl = STORE_CACHE_SECONDS if known else MISSING_CACHE_SECONDS
        with self._lock:
            if len(self._cache) > 10_000:  # junk domains must not grow the cache without bound
                self._cache.clear()
            self._cache[key] = (now + ttl, known)
        return known

    def forget(self, platform: str, domain: str) -> None:
        with self._lock:
            self._cache.pop((platform, domain), None)
