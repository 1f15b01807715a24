"""One worker per SQLite file; none of this on PostgreSQL."""
from __future__ import annotations

import os

import pytest

from service.jobs.sqlite_worker_lock import WorkerAlreadyRunning, take_sqlite_worker_lock


def test_a_second_worker_on_the_same_file_is_refused_until_the_first_lets_go(tmp_path):
    url = f"sqlite:///{tmp_path}/cj.sqlite3"
    first = take_sqlite_worker_lock(url)
    with pytest.raises(WorkerAlreadyRunning) as err:
        take_sqlite_worker_lock(url)
    assert f"pid {os.getpid()}" in str(err.value) and str(tmp_path / "cj.sqlite3") in str(err.value)
    assert take_sqlite_worker_lock(f"sqlite:///{tmp_path}/other.sqlite3") is not None  # another file: fine
    first.close()
    take_sqlite_worker_lock(url).close()


def test_postgres_takes_no_lock():
    assert take_sqlite_worker_lock("postgresql+psycopg://u@db/cj") is None
