"""Which store a delivery comes from, and its webhook secrets: cached briefly per process.

Every webhook needs this before anything else; a query plus two decryptions per delivery showed up in
bench/ingest.py. Entries live STORE_CACHE_SECONDS, one lookup per store at a time; admin changes in this
process drop them at once, other processes see them within that time (a delivery refused meanwhile is
retried by the platform).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.storage.credential_box import CredentialBox
from service.storage.models import Store
from service.timeutil import utcnow

STORE_CACHE_SECONDS = 10.0
MISSING_CACHE_SECONDS = 2.0
# How long a request waits for another request's lookup of the same store before trying itself.
# Short: the whole answer must fit in the 3-5 s the platforms wait.
LOOKUP_WAIT_SECONDS = 1.0


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
        self._loading: dict[tuple[str, str], threading.Event] = {}
        self._forgotten = 0  # counts forget() calls: a lookup that overlapped one is not cached

    def find(self, platform: str, domain: str) -> KnownStore | None:
        key = (platform, domain)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            loading = self._loading.get(key)
            if loading is None:
                loading = self._loading[key] = threading.Event()
                mine = True
            else:
                mine = False
        if mine:
            try:
                return self._look_up(key)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
                loading.set()
        # Another request is looking this store up. When an entry expired under load, every request in
        # flight missed at once and each ran the same query (bench/ingest.py); now one does.
        if hit is not None:
            return hit[1]  # a few milliseconds past its time, while the other request refreshes it
        loading.wait(LOOKUP_WAIT_SECONDS)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit[1]
        return self._look_up(key)  # that lookup failed or hangs: try ourselves (and fail ourselves)

    def _look_up(self, key: tuple[str, str]) -> KnownStore | None:
        platform, domain = key
        now = time.monotonic()
        with self._lock:
            forgotten = self._forgotten
        with self.session_factory() as session:
            store = session.scalar(select(Store).where(Store.platform == platform, Store.domain == domain))
            known = None if store is None else KnownStore(id=store.id, secrets=tuple(
                s for s in (self.box.open(store.webhook_secret_enc), self._previous_secret(store))
                if s))
        ttl = STORE_CACHE_SECONDS if known else MISSING_CACHE_SECONDS
        with self._lock:
            if self._forgotten != forgotten:
                return known  # an admin change came in meanwhile: what was read may predate it
            if len(self._cache) > 10_000:  # junk domains must not grow the cache without bound
                self._cache.clear()
            self._cache[key] = (now + ttl, known)
        return known

    def _previous_secret(self, store: Store) -> str | None:
        """A rotated-out secret, while its grace period lasts (it expires; it was accepted forever before)."""
        until = store.previous_webhook_secret_until
        if store.previous_webhook_secret_enc is None or (until is not None and until <= utcnow()):
            return None
        return self.box.open(store.previous_webhook_secret_enc)

    def forget(self, platform: str, domain: str) -> None:
        with self._lock:
            self._cache.pop((platform, domain), None)
            self._forgotten += 1
