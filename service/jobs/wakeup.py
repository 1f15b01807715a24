"""Waking an idle worker when a job is enqueued, instead of sleeping a fixed poll interval.

PostgreSQL: after the web process commits new jobs it sends NOTIFY, and idle workers LISTEN. The
notify goes out after the commit and from a background thread that coalesces bursts: a NOTIFY inside
the ingest transaction would serialize every ingest commit on PostgreSQL's notify-queue lock (it cut
ingest throughput by more than half in bench/ingest.py). SQLite: `PRAGMA data_version` changes
whenever another connection commits, so an idle worker checks it every few milliseconds at almost no
cost, and nothing needs sending.
"""
from __future__ import annotations

import os
import threading
import time

from sqlalchemy.engine import Engine

CHANNEL = "cj_bridge_jobs"
SQLITE_CHECK_SECONDS = 0.01
# Under a burst, one NOTIFY per 20 ms is plenty: busy workers claim the next job without being told,
# and each NOTIFY is a round trip plus a lock on PostgreSQL's notify queue. The first notify after a
# quiet spell still goes out at once.
NOTIFY_SPACING_SECONDS = 0.02


def _own_connection(engine: Engine):
    """A psycopg connection of its own, in autocommit, outside the pool (LISTEN and NOTIFY)."""
    import psycopg
    url = engine.url.set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True, connect_timeout=10)


class JobWakeup:
    """wait(timeout) returns early when the database may hold a new job."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._conn = None
        self._last_version = None

    def _ensure(self):
        if self._conn is not None:
            return
        if self.engine.dialect.name == "postgresql":
            self._conn = _own_connection(self.engine)
            self._conn.execute(f"LISTEN {CHANNEL}")
        else:
            self._conn = self.engine.raw_connection()
            self._last_version = self._sqlite_version()

    def _sqlite_version(self) -> int:
        cur = self._conn.cursor()
        try:
            cur.execute("PRAGMA data_version")
            return cur.fetchone()[0]
        finally:
            cur.close()

    def wait(self, timeout: float) -> bool:
        """True if woken by a change, False on timeout. Errors close the listener (reopened next time)."""
        try:
            self._ensure()
            if self.engine.dialect.name == "postgresql":
                for _notice in self._conn.notifies(timeout=timeout, stop_after=1):
                    return True
                return False
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                version = self._sqlite_version()
                if version != self._last_version:
                    self._last_version = version
                    return True
                time.sleep(SQLITE_CHECK_SECONDS)
            return False
        except Exception:  # noqa: BLE001 - a broken listener must degrade to plain polling
            self.close()
            time.sleep(timeout)
            return False

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001
                pass
        self._conn = None


class JobNotifier:
    """Tells listening workers 'new jobs', at most one NOTIFY in flight, bursts coalesced.

    Use for_engine(): one notifier (one thread, one connection) per database and process, however many
    apps the process builds (tests build hundreds; each had kept a connection open).
    """

    @classmethod
    def for_engine(cls, engine: Engine) -> "JobNotifier":
        key = (os.getpid(), engine.url.render_as_string(hide_password=False))
        with _notifiers_lock:
            if key not in _notifiers:
                _notifiers[key] = cls(engine)
            return _notifiers[key]

    def __init__(self, engine: Engine):
        self.engine = engine
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last_sent = float("-inf")

    def jobs_committed(self) -> None:
        """Call after a commit that added jobs; returns at once."""
        if self.engine.dialect.name != "postgresql":
            return
        self._wanted.set()
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="job-notifier", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        conn = None
        while True:
            self._wanted.wait()
            time.sleep(max(0.0, self._last_sent + NOTIFY_SPACING_SECONDS - time.monotonic()))
            self._wanted.clear()
            try:
                # A connection of its own in autocommit: one round trip per NOTIFY. Through the pool it
                # was a checkout, BEGIN, NOTIFY and COMMIT (bench/ingest.py: 0.14 ms of web CPU per
                # request at 50 NOTIFYs a second).
                if conn is None:
                    conn = _own_connection(self.engine)
                conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")
                self._last_sent = time.monotonic()
            except Exception:  # noqa: BLE001 - workers still poll; a lost wake-up costs one poll interval
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.5)


_notifiers: dict[tuple[int, str], JobNotifier] = {}
_notifiers_lock = threading.Lock()
