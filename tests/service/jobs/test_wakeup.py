"""An idle worker is woken by a new job (NOTIFY after commit on PostgreSQL, data_version on SQLite)."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from service.jobs.queue import enqueue
from service.jobs.wakeup import JobNotifier, JobWakeup


def test_enqueue_wakes_a_waiting_worker(engine, session_factory):
    wakeup = JobWakeup(engine)
    assert wakeup.wait(0.05) is False  # nothing happened: a timeout
    result = {}
    waiter = threading.Thread(target=lambda: result.setdefault("woken", wakeup.wait(30)))
    waiter.start()
    threading.Event().wait(0.2)  # let it start listening
    with session_factory() as s:
        enqueue(s, kind="noop", payload={})
        s.commit()
    JobNotifier(engine).jobs_committed()  # what the web layer does after committing new jobs
    waiter.join(35)
    assert result == {"woken": True}
    wakeup.close()


def test_a_broken_listener_degrades_to_a_plain_wait(engine):
    wakeup = JobWakeup(engine)
    wakeup._ensure()
    wakeup._conn.close()  # e.g. the database restarted under it
    assert wakeup.wait(0.05) is False
    assert wakeup._conn is None  # reopened on the next wait
    assert wakeup.wait(0.05) is False
    wakeup.close()


def test_the_notifier_reconnects_after_its_connection_is_lost(engine, session_factory):
    if engine.dialect.name != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's; SQLite workers watch data_version")
    notifier = JobNotifier(engine)
    notifier.jobs_committed()
    wait_for(lambda: notifier._last_sent > 0)
    with engine.connect() as conn:  # e.g. a database restart: the notifier's backend goes away
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE pid <> pg_backend_pid() AND query LIKE '%pg_notify%'"))
        conn.commit()
    wakeup = JobWakeup(engine)
    wakeup._ensure()
    result = {}
    waiter = threading.Thread(target=lambda: result.setdefault("woken", wakeup.wait(30)))
    waiter.start()
    deadline = time.monotonic() + 30
    while waiter.is_alive() and time.monotonic() < deadline:  # the first try after the kill may be lost
        notifier.jobs_committed()
        waiter.join(0.7)
    assert result == {"woken": True}
    wakeup.close()


def wait_for(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_one_notifier_per_database_and_process(engine):
    """Every app a process builds shares one notifier: one thread and one connection, not one per app."""
    from service.jobs.wakeup import JobNotifier
    assert JobNotifier.for_engine(engine) is JobNotifier.for_engine(engine)
