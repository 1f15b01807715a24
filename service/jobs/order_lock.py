"""Mutual exclusion for jobs (per order, or per named piece of work): a PostgreSQL advisory lock held for the job's
duration."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Engine

from service.jobs.outcomes import RetryLater

# Advisory locks are shared by every database of a PostgreSQL server: the first key names this database
# (and this application), so two deployments, or two test runs, on one server never hold each other's locks.
_LOCK_CLASS_SQL = "hashtext('cj_bridge:' || current_database())"
LOCK_RETRY_SECONDS = 2.0


@contextmanager
def _advisory_lock(engine: Engine, lock_class_sql: str, key: int, params: dict) -> Iterator[bool]:
    """Try a PostgreSQL advisory lock (class, key) for the block; yields whether it was taken."""
    params = dict(params, k=int(key) % 2_147_483_647)
    # Autocommit: one round trip to take the lock and one to release it (no BEGIN and COMMIT around each).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        got = conn.execute(text(f"SELECT pg_try_advisory_lock({lock_class_sql}, :k)"), params).scalar()
        try:
            yield bool(got)
        finally:
            if got:
                conn.execute(text(f"SELECT pg_advisory_unlock({lock_class_sql}, :k)"), params)


@contextmanager
def order_lock(engine: Engine, order_id: int | None) -> Iterator[bool]:
    """Yields True when this process may work on the order now, False when another one is.

    SQLite runs one worker, so there is nothing to exclude there.
    """
    if order_id is None or engine.dialect.name != "postgresql":
        yield True
        return
    with _advisory_lock(engine, _LOCK_CLASS_SQL, order_id, {}) as got:
        yield got


@contextmanager
def order_lock_or_retry(engine: Engine, order_id: int | None) -> Iterator[None]:
    """Hold the order's lock for the block, or raise RetryLater (no attempt used) when another job holds it."""
    with order_lock(engine, order_id) as mine:
        if not mine:
            raise RetryLater(f"order {order_id} is being worked on by another job", retry_after=LOCK_RETRY_SECONDS,
                             count_attempt=False)
        yield


@contextmanager
def work_lock_or_retry(engine: Engine, name: str, key: int = 0) -> Iterator[None]:
    """One job at a time for a named piece of work (e.g. one store's stock writes), else RetryLater (no attempt
    used). Its own lock class, so its keys never meet the order ids'."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with _advisory_lock(engine, "hashtext('cj_bridge:' || :name || ':' || current_database())", key,
                        {"name": name}) as got:
        if not got:
            raise RetryLater(f"{name} {key} is being worked on by another job", retry_after=LOCK_RETRY_SECONDS,
                             count_attempt=False)
        yield
