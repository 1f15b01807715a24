"""Per-order mutual exclusion for jobs: a PostgreSQL advisory lock held for the job's duration."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Engine

# First key of the two-key advisory lock space, so our locks never meet another application's.
LOCK_CLASS = 0x434A  # "CJ"


@contextmanager
def order_lock(engine: Engine, order_id: int | None) -> Iterator[bool]:
    """Yields True when this process may work on the order now, False when another one is.

    SQLite runs one worker, so there is nothing to exclude there.
    """
    if order_id is None or engine.dialect.name != "postgresql":
        yield True
        return
    key = int(order_id) % 2_147_483_647
    with engine.connect() as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:c, :k)"), {"c": LOCK_CLASS, "k": key}).scalar()
        conn.commit()
        try:
            yield bool(got)
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:c, :k)"), {"c": LOCK_CLASS, "k": key})
                conn.commit()
