"""Per-source limit on webhook requests that prove nothing (unsigned, or a signature that fails).

Such requests cost a body read and an HMAC each and are answered without storing anything; a source that
keeps sending them is refused with 429 for a while, in this web process, before its body is read.
"""
from __future__ import annotations

import threading
import time
from collections import deque

WINDOW_SECONDS = 60.0
LIMIT = 60  # unproven requests per source and window
MAX_SOURCES = 10_000  # junk sources must not grow the table without bound


class SourceLimiter:
    def __init__(self, *, limit: int = LIMIT, window: float = WINDOW_SECONDS, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def blocked(self, source: str) -> bool:
        """True while this source has sent `limit` unproven requests within the window."""
        with self._lock:
            hits = self._hits.get(source)
            if not hits:
                return False
            self._expire(hits)
            return len(hits) >= self.limit

    def failed(self, source: str) -> None:
        """Count one unproven request from this source."""
        with self._lock:
            if len(self._hits) > MAX_SOURCES:
                self._hits.clear()
            hits = self._hits.setdefault(source, deque())
            self._expire(hits)
            hits.append(self.clock())

    def _expire(self, hits: deque) -> None:
        cutoff = self.clock() - self.window
        while hits and hits[0] < cutoff:
            hits.popleft()
