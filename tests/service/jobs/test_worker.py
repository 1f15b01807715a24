"""The worker process: periodic scheduling, heartbeat, clean shutdown on SIGTERM, crash reports."""
from __future__ import annotations

import logging
import os
import pathlib
import signal
import subprocess
import sys
import time

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from service.jobs.queue import claim, enqueue
from service.storage.models import DeliveryKey, Job, PeriodicSchedule, WebhookEvent, WorkerHeartbeat
from service.observability.structured_logging import JsonFormatter
from service.timeutil import utcnow
from service.jobs.worker import beat, run_job, schedule_periodic


PERIODIC = ["poll_cj_stock", "poll_stores", "purge_old_events", "read_cj_account", "read_cj_wallet",
            "resume_budget_holds", "retry_balance_holds", "send_alerts", "sweep_cj_orders",
            "sync_product_subscriptions", "sync_stale_cj_orders", "weekly_reconciliation"]


def test_periodic_jobs_are_scheduled_once_per_interval(runtime, session_factory):
    assert schedule_periodic(runtime) == len(PERIODIC)
    assert schedule_periodic(runtime) == 0  # not due again yet
    with session_factory() as s:
        kinds = sorted(j.kind for j in s.scalars(select(Job)))
        assert kinds == PERIODIC
        assert len(s.scalars(select(PeriodicSchedule)).all()) == len(PERIODIC)


def test_a_schedule_row_another_worker_holds_is_skipped(runtime, session_factory, engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite runs one worker")
    assert schedule_periodic(runtime) == len(PERIODIC)
    with session_factory() as s:
        s.execute(update(PeriodicSchedule).values(next_run_at=utcnow() - timedelta(minutes=1)))  # all due again
        s.commit()
    with session_factory() as other_worker:  # in the middle of its own scheduling
        other_worker.scalar(select(PeriodicSchedule).where(PeriodicSchedule.kind == "poll_stores").with_for_update())
        assert schedule_periodic(runtime) == len(PERIODIC) - 1  # not an attempt to insert the held row again
        other_worker.rollback()
    with session_factory() as s:
        assert len(s.scalars(select(PeriodicSchedule)).all()) == len(PERIODIC)


def test_heartbeat_row_is_upserted(runtime, session_factory):
    beat(runtime, worker_id="w1")
    beat(runtime, worker_id="w1", current_job_id=5)
    with session_factory() as s:
        (row,) = s.scalars(select(WorkerHeartbeat)).all()
        assert row.current_job_id == 5 and row.pid == os.getpid()


def test_worker_process_beats_and_stops_cleanly_on_sigterm(base_env, session_factory):
    env = {**os.environ, **base_env, "WORKER_POLL_SECONDS": "0.1", "LOG_LEVEL": "INFO"}
    proc = subprocess.Popen([sys.executable, "-m", "service.jobs.worker"], env=env,
                            cwd=pathlib.Path(__file__).resolve().parents[3],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with session_factory() as s:
                if s.scalars(select(WorkerHeartbeat)).first() is not None:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("worker never beat")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        output = proc.stdout.read().decode()
        assert '"event": "worker_stopped"' in output
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_crashed_job_logs_where_it_failed_but_no_customer_data(runtime, session_factory, caplog):
    # A database error's message carries the data it failed on: SQLAlchemy appends the parameters, and
    # PostgreSQL's DETAIL repeats the conflicting key. Here that is a customer's name and address.
    def store_the_key_twice(session, payload, rt):
        event = WebhookEvent(source="shopify", topic="orders/create", raw_body=b"{}", headers={})
        session.add(event)
        session.flush()
        for _ in range(2):
            session.add(DeliveryKey(scope="shopify:1", key="Maria Lopez, 742 Evergreen Terrace", event_id=event.id))
            session.flush()
        return "unreachable"

    with session_factory() as s:
        enqueue(s, kind="store_key", payload={})
        s.commit()
    job = claim(session_factory, worker_id="w1", lease_seconds=60)
    caplog.set_level(logging.INFO)
    assert run_job(runtime, job, worker_id="w1", handlers={"store_key": store_the_key_twice}) == "queued"
    (crashed,) = [r for r in caplog.records if r.getMessage() == "job_crashed"]
    line = JsonFormatter().format(crashed)
    # What failed and where, so the report is still worth reading.
    assert "IntegrityError" in line and "tests/service/jobs/test_worker.py" in line and "store_the_key_twice" in line
    with session_factory() as s:
        last_error = s.get(Job, job.id).last_error  # shown by the admin API's dead-job list
    assert "IntegrityError" in last_error and "store_the_key_twice" in last_error
    for text in (line, last_error):
        assert "Maria" not in text and "Evergreen" not in text
