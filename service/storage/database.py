"""Database engine and session factory, tuned for SQLite (embedded) and PostgreSQL (production)."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def is_sqlite(engine_or_url) -> bool:
    url = getattr(engine_or_url, "url", engine_or_url)
    return str(url).startswith("sqlite")


def make_engine(database_url: str) -> Engine:
    """Create the engine; SQLite gets WAL, a busy timeout and write-locking transactions."""
    if is_sqlite(database_url):
        engine = create_engine(database_url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Let SQLAlchemy, not the driver, issue BEGIN so we can make it IMMEDIATE below.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        # Threads of one process queue on this lock rather than in SQLite's busy handler, which
        # sleeps in steps of up to 100 ms (it made the p99 of bench/ingest.py 0.5 s).
        write_lock = threading.Lock()

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(conn):
            # SQLite has no row locks: taking the write lock at BEGIN makes read-then-write
            # sequences (job claiming, the CJ throttle, token refresh) atomic between processes.
            conn.info["holds_write_lock"] = write_lock.acquire(timeout=30)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                _release(conn)
                raise

        def _release(conn, *_args):
            if conn.info.pop("holds_write_lock", False):
                write_lock.release()

        event.listen(engine, "commit", _release)
        event.listen(engine, "rollback", _release)
        return engine
    # No pre-ping: it costs a round trip per request. After a database restart the first use of a
    # stale connection fails (a 503, which the platform retries) and the pool drops them all.
    return create_engine(database_url, pool_size=10, max_overflow=10)


def make_intake_engine(engine: Engine) -> Engine:
    """The engine the webhook intake writer stores batches with.

    PostgreSQL: a pool of its own whose sessions use a generic plan, so the one batch statement is
    planned once per connection rather than on every execution (PostgreSQL keeps re-planning it
    because each batch's arrays differ in size; planning was half its database time). SQLite: the
    same engine, whose in-process write lock must be shared by every writer of the process.
    """
    if is_sqlite(engine):
        return engine
    # One per database and process, however many apps the process builds; a pool is never shared
    # across a fork.
    key = (os.getpid(), engine.url.render_as_string(hide_password=False))
    with _intake_engines_lock:
        if key not in _intake_engines:
            # connect_args replace the URL's own libpq options (a search_path, say): keep those too.
            options = " ".join(filter(None, (engine.url.query.get("options"),
                                             "-c plan_cache_mode=force_generic_plan")))
            _intake_engines[key] = create_engine(engine.url, pool_size=1, max_overflow=2,
                                                 connect_args={"options": options})
        return _intake_engines[key]


_intake_engines: dict[tuple[int, str], Engine] = {}
_intake_engines_lock = threading.Lock()

# How long a webhook's store lookup may wait for SQLite: the platforms wait 3-5 s for the whole answer.
LOOKUP_BUSY_MS = 1000


def make_lookup_engine(engine: Engine) -> Engine:
    """The engine webhook store lookups read with: they must never queue behind a writer.

    SQLite: the service's engine starts every transaction with BEGIN IMMEDIATE (the write lock), so a
    read waited for any writer, up to 30 s, while the platform had given up after 3-5 s. This engine
    reads in autocommit, which WAL lets run beside a writer. PostgreSQL readers never wait for writers.
    """
    if not is_sqlite(engine) or engine.url.database in (None, "", ":memory:"):
        return engine
    key = (os.getpid(), engine.url.render_as_string(hide_password=False))
    with _intake_engines_lock:
        if key not in _lookup_engines:
            lookup = create_engine(engine.url, connect_args={"timeout": LOOKUP_BUSY_MS / 1000,
                                                             "check_same_thread": False})

            @event.listens_for(lookup, "connect")
            def _read_only(dbapi_conn, _record):
                dbapi_conn.isolation_level = None  # autocommit: no BEGIN, so no lock beyond each statement
                cur = dbapi_conn.cursor()
                cur.execute(f"PRAGMA busy_timeout={LOOKUP_BUSY_MS}")
                cur.execute("PRAGMA query_only=ON")
                cur.close()
            _lookup_engines[key] = lookup
        return _lookup_engines[key]


_lookup_engines: dict[tuple[int, str], Engine] = {}


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


@contextmanager
def transaction(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    session = session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
