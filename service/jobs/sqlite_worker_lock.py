"""One worker per SQLite file: an exclusive lock on a file beside the database, held while the worker runs.

SQLite has no advisory locks, so the order lock and job claiming count on a single worker process; a
second `./run serve` (or a worker left over from one) on the same file would race it.
"""
from __future__ import annotations

import fcntl
import os

from sqlalchemy.engine import make_url


class WorkerAlreadyRunning(RuntimeError):
    """Another worker holds the lock on this SQLite file."""


def sqlite_file(database_url: str) -> str | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return os.path.abspath(url.database)


def take_sqlite_worker_lock(database_url: str):
    """Returns the open lock file (keep it open while working), None off SQLite; raises WorkerAlreadyRunning."""
    path = sqlite_file(database_url)
    if path is None:
        return None
    lock_path = path + ".worker.lock"
    handle = open(lock_path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise WorkerAlreadyRunning(
            f"another worker (pid {holder}) is running on {path}; stop it first (one worker per SQLite file; "
            f"on PostgreSQL run as many as you like)") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
