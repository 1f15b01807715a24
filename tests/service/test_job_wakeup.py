"""An idle worker is woken by a new job (NOTIFY after commit on PostgreSQL, data_version on SQLite)."""
from __future__ import annotations

import threading

from service.job_queue import enqueue
from service.job_wakeup import JobNotifier, JobWakeup


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
