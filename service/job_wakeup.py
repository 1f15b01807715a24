"""Waking an idle worker when a job is enqueued, instead of sleeping a fixed poll interval.

PostgreSQL: enqueue() sends NOTIFY in the enqueuing transaction (delivered on commit) and idle
workers LISTEN. SQLite: `PRAGMA data_version` changes whenever another connection commits, so an
idle worker checks it every few milliseconds at almost no cost.
"""
from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.engine import Engine

CHANNEL = "cj_bridge_jobs"
SQLITE_CHECK_SECONDS = 0.01


def notify_sql():
    return text(f"SELECT pg_notify('{CHANNEL}', '')")


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
            import psycopg
            url = self.engine.url.set(drivername="postgresql")
            self._conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
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
