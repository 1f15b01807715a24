"""The job worker: claims jobs from the database, runs them, schedules periodic work, beats."""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
import uuid
from datetime import timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from service.observability import error_report
from service.config import ConfigError, exit_for_config_error, load_settings
from service.storage.database import transaction
from service.storage.schema_state import RUN_MIGRATIONS, schema_not_migrated
from service.jobs.outcomes import NeedsHuman, RetryLater
from service.jobs.queue import claim, complete, enqueue, fail
from service.storage.models import Job, PeriodicSchedule, WorkerHeartbeat
from service.jobs.wakeup import JobWakeup
from service.jobs.order_lock import order_lock_or_retry, work_lock_or_retry
from service.jobs.sqlite_worker_lock import WorkerAlreadyRunning, take_sqlite_worker_lock
from service.pipeline import (alerts, cancel, cj_budget, cj_hints, cj_product_subscriptions, cj_updates, cj_wallet,
                              cj_webhook_setup, edit_propagation, forward, ingest, platform_notices, polling, privacy,
                              reconciliation, resume, stock_sync, store_setup, store_stock_writes,
                              unmatched_cj_orders, write_back)
from service.runtime import Runtime, build_runtime
from service.observability.structured_logging import configure_logging
from service.timeutil import utcnow

log = logging.getLogger("cj_bridge.worker")

Handler = Callable[..., str]

SCHEDULE_CHECK_SECONDS = 1.0
LEASE_CHECK_SECONDS = 1.0


def _handlers() -> dict[str, Handler]:
    """Job kind → handler(session, job, runtime); each returns what happened, for the log."""
    def order_id(job: Job) -> int:
        return job.payload["order_id"]
    return {
        "process_event": lambda s, j, rt: ingest.process_event(s, event_id=j.payload["event_id"], runtime=rt),
        "apply_cj_event": lambda s, j, rt: cj_hints.apply_cj_event(s, event_id=j.payload["event_id"], runtime=rt),
        "read_cj_orders": lambda s, j, rt: cj_hints.read_marked_orders(s, runtime=rt),
        "forward_order": lambda s, j, rt: forward.forward_order(s, order_id=order_id(j), runtime=rt),
        "write_back": lambda s, j, rt: write_back.write_back_order(s, order_id=order_id(j), runtime=rt),
        "cancel_cj_order": lambda s, j, rt: cancel.cancel_cj_order(s, order_id=order_id(j), runtime=rt,
                                                                   attempt=j.attempts),
        "resubmit_edited_order": lambda s, j, rt: edit_propagation.resubmit_edited_order(
            s, order_id=order_id(j), cj_attempt=j.payload["cj_attempt"], runtime=rt, attempt=j.attempts),
        "fetch_platform_key": lambda s, j, rt: platform_notices.fetch_platform_key(
            s, platform=j.payload["platform"], kid=j.payload["kid"], runtime=rt),
        "process_platform_notice": lambda s, j, rt: platform_notices.process_platform_notice(
            s, event_id=j.payload["event_id"], runtime=rt),
        "sync_cj_order": lambda s, j, rt: cj_updates.sync_cj_order(s, order_id=order_id(j), runtime=rt),
        "sync_stale_cj_orders": lambda s, j, rt: str(cj_updates.enqueue_stale_syncs(s, runtime=rt)),
        "retry_balance_holds": lambda s, j, rt: str(resume.resume_held(s, reason="insufficient_balance")),
        "purge_old_events": lambda s, j, rt: str(privacy.purge_old_events(
            s, retention_days=rt.settings.event_retention_days)),
        "poll_stores": lambda s, j, rt: str(polling.enqueue_store_polls(s)),
        "poll_store": lambda s, j, rt: polling.poll_store(s, store_id=j.payload["store_id"], runtime=rt),
        "register_webhooks": lambda s, j, rt: str(store_setup.register_store_webhooks(
            s, store_id=j.payload["store_id"], runtime=rt)),
        "register_cj_webhooks": lambda s, j, rt: str(cj_webhook_setup.register_cj_webhooks(s, runtime=rt)),
        "read_cj_account": lambda s, j, rt: cj_budget.read_account_settings(s, runtime=rt),
        "read_cj_wallet": lambda s, j, rt: cj_wallet.read_wallet(s, runtime=rt),
        "send_alerts": lambda s, j, rt: alerts.send_alerts(s, runtime=rt),
        "weekly_reconciliation": lambda s, j, rt: reconciliation.write_weekly_report(s, runtime=rt),
        "resume_budget_holds": lambda s, j, rt: str(cj_budget.resume_budget_holds(s)),
        "sweep_cj_orders": lambda s, j, rt: unmatched_cj_orders.sweep_cj_orders(s, runtime=rt),
        "apply_cj_catalog_event": lambda s, j, rt: stock_sync.apply_cj_catalog_event(
            s, event_id=j.payload["event_id"]),
        stock_sync.READ_JOB: lambda s, j, rt: _alone(s, "stock_read", 0, lambda: stock_sync.read_marked_stock(
            s, runtime=rt)),
        "poll_cj_stock": lambda s, j, rt: stock_sync.poll_cj_stock(s, runtime=rt),
        "sync_product_subscriptions": lambda s, j, rt: cj_product_subscriptions.sync_product_subscriptions(
            s, runtime=rt),
        store_stock_writes.WRITE_JOB: lambda s, j, rt: _alone(s, "store_stock", j.payload["store_id"], lambda: (
            store_stock_writes.write_store_stock(s, store_id=j.payload["store_id"], runtime=rt))),
    }


def _alone(session, name: str, key: int, work):
    """Run work while no other job does the same (two workers reading the same marks would spend CJ's points
    twice; two writing one store would race each other's compare-and-swap)."""
    with work_lock_or_retry(session.get_bind(), name, key):
        outcome = work()
        session.commit()  # before the lock goes: the next job for the same work sees what this one did
        return outcome


def periodic_kinds(runtime: Runtime) -> dict[str, timedelta]:
    """Periodic job kind → interval."""
    return {
        "sync_stale_cj_orders": timedelta(minutes=max(1, min(15, runtime.settings.cj_sync_stale_minutes))),
        "retry_balance_holds": timedelta(minutes=runtime.settings.balance_retry_minutes),
        "purge_old_events": timedelta(hours=6),
        "poll_stores": timedelta(minutes=runtime.settings.store_poll_minutes),
        "read_cj_wallet": timedelta(minutes=runtime.settings.wallet_read_minutes),
        "send_alerts": timedelta(minutes=5),
        "weekly_reconciliation": timedelta(hours=24),  # writes each ended week once
        "read_cj_account": timedelta(hours=24),  # due at once on a new database: the limits are read at start
        "resume_budget_holds": timedelta(minutes=10),
        "sweep_cj_orders": timedelta(hours=24),
        "poll_cj_stock": timedelta(minutes=runtime.settings.stock_poll_minutes),
        "sync_product_subscriptions": timedelta(hours=1),
    }


def schedule_periodic(runtime: Runtime) -> int:
    """Enqueue every periodic kind that is due; safe with many workers (row lock + dedupe key)."""
    queued = 0
    now = utcnow()
    kinds = periodic_kinds(runtime)
    with transaction(runtime.session_factory) as session:
        _add_missing_schedule_rows(session, kinds, now)
        for kind, interval in kinds.items():
            stmt = select(PeriodicSchedule).where(PeriodicSchedule.kind == kind)
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            row = session.scalar(stmt)
            if row is None:
                continue  # another worker holds the row right now, and schedules it
            if row.next_run_at <= now:
                enqueue(session, kind=kind, payload={}, dedupe_key=f"periodic:{kind}")
                row.next_run_at = now + interval
                queued += 1
    return queued


def _add_missing_schedule_rows(session, kinds: dict[str, timedelta], now) -> None:
    # Apart from the lock, so that a row skipped because another worker holds it is never taken for a
    # missing one: inserting it again failed on the primary key, and the failing worker backed off for
    # seconds at a time (found with bench/ingest.py --workers 2).
    present = set(session.scalars(select(PeriodicSchedule.kind)))
    missing = [{"kind": kind, "next_run_at": now} for kind in kinds if kind not in present]
    if missing:
        insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(PeriodicSchedule).values(missing).on_conflict_do_nothing(index_elements=["kind"]))


def run_job(runtime: Runtime, job: Job, *, worker_id: str, handlers: dict[str, Handler] | None = None) -> str:
    """Run one claimed job in its own session and record the outcome on the job row."""
    handlers = handlers or _handlers()
    handler = handlers.get(job.kind)
    session = runtime.session_factory()
    started = time.monotonic()
    try:
        if handler is None:
            status = fail(session, job, worker_id=worker_id, error=f"no handler for job kind {job.kind!r}",
                          permanent=True)
            session.commit()
            return status
        try:
            with order_lock_or_retry(session.get_bind(), job.payload.get("order_id")):
                outcome = handler(session, job, runtime)
                complete(session, job, worker_id=worker_id)
                session.commit()
            status = "done"
        except RetryLater as exc:
            session.rollback()
            status = fail(session, job, worker_id=worker_id, error=str(exc), retry_after=exc.retry_after,
                          count_attempt=exc.count_attempt, backoff_base=runtime.settings.job_backoff_seconds)
            _hold_if_dead(session, job, status, str(exc))
            session.commit()
            outcome = str(exc)
        except NeedsHuman as exc:
            session.rollback()
            status = fail(session, job, worker_id=worker_id, error=f"{exc.reason}: {exc}", permanent=True)
            _hold_if_dead(session, job, status, f"{exc.reason}: {exc}")
            session.commit()
            outcome = str(exc)
        except Exception as exc:  # noqa: BLE001 - any bug becomes a retried, then dead, job, never a lost one
            session.rollback()
            crash = error_report.summary(exc)  # no message: it can carry customer data
            log.exception("job_crashed", extra={"fields": {"job_id": job.id, "kind": job.kind, "error": crash}})
            status = fail(session, job, worker_id=worker_id, error=crash,
                          backoff_base=runtime.settings.job_backoff_seconds)
            _hold_if_dead(session, job, status, crash)
            session.commit()
            outcome = type(exc).__name__
    finally:
        session.close()
    log.info("job_finished", extra={"fields": {
        "job_id": job.id, "kind": job.kind, "status": status, "attempt": job.attempts,
        "outcome": str(outcome)[:200], "ms": round((time.monotonic() - started) * 1000, 1)}})
    return status


def _hold_if_dead(session, job: Job, status: str, error: str) -> None:
    """A job for an order that gave up leaves the order held with the reason, never silently stuck."""
    if status == "dead" and job.payload.get("order_id") is not None:
        resume.hold_after_dead_job(session, order_id=job.payload["order_id"], kind=job.kind, error=error)


def beat(runtime: Runtime, *, worker_id: str, current_job_id: int | None = None) -> None:
    with transaction(runtime.session_factory) as session:
        row = session.get(WorkerHeartbeat, worker_id)
        if row is None:
            row = WorkerHeartbeat(worker_id=worker_id, hostname=socket.gethostname(), pid=os.getpid(),
                                  started_at=utcnow())
            session.add(row)
        row.beat_at = utcnow()
        row.current_job_id = current_job_id


def drain(runtime: Runtime, *, worker_id: str = "drain", max_jobs: int = 1000) -> int:
    """Run due jobs until none is left (tests and one-off CLI use); returns how many ran."""
    ran = 0
    while ran < max_jobs:
        job = claim(runtime.session_factory, worker_id=worker_id, lease_seconds=runtime.settings.job_lease_seconds)
        if job is None:
            return ran
        run_job(runtime, job, worker_id=worker_id)
        ran += 1
    return ran


class Worker:
    """Long-running loop; SIGTERM/SIGINT let the current job finish, then the loop exits."""

    def __init__(self, runtime: Runtime, *, worker_id: str | None = None):
        self.runtime = runtime
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stopping = False
        self._last_beat = 0.0
        self._next_schedule_check = 0.0
        self._next_lease_check = 0.0
        self.wakeup = JobWakeup(runtime.session_factory.kw["bind"])

    def request_stop(self, signum=None, _frame=None) -> None:
        log.info("worker_stopping", extra={"fields": {"worker_id": self.worker_id, "signal": signum}})
        self.stopping = True

    def _maybe_beat(self, current_job_id=None, force=False) -> None:
        if force or time.monotonic() - self._last_beat >= 10:
            beat(self.runtime, worker_id=self.worker_id, current_job_id=current_job_id)
            self._last_beat = time.monotonic()

    def _maybe_schedule(self) -> None:
        # Periodic kinds run every few minutes: checking once a second is plenty, where checking before
        # every job cost a transaction and a row lock per kind per job.
        if time.monotonic() >= self._next_schedule_check:
            schedule_periodic(self.runtime)
            self._next_schedule_check = time.monotonic() + SCHEDULE_CHECK_SECONDS

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        log.info("worker_started", extra={"fields": {"worker_id": self.worker_id}})
        idle_sleep = self.runtime.settings.worker_poll_seconds
        failures = 0
        while not self.stopping:
            try:
                self._maybe_beat()
                self._maybe_schedule()
                expired = time.monotonic() >= self._next_lease_check
                job = claim(self.runtime.session_factory, worker_id=self.worker_id,
                            lease_seconds=self.runtime.settings.job_lease_seconds, expired_leases=expired)
                if expired:
                    self._next_lease_check = time.monotonic() + LEASE_CHECK_SECONDS
                if job is not None:
                    # The heartbeat says which job runs, at its own pace (every 10 s): a transaction per job
                    # cost a tenth of the worker's time in a burst (bench/drain.py).
                    self._maybe_beat(current_job_id=job.id)
                    run_job(self.runtime, job, worker_id=self.worker_id)
                failures = 0
            except Exception as exc:  # noqa: BLE001 - a database outage must not kill the worker
                # A job cut short here keeps its lease and is claimed again once the lease expires.
                failures += 1
                if schema_not_migrated(exc):
                    log.warning("database_not_migrated", extra={"fields": {"worker_id": self.worker_id,
                                                                           "resolution": RUN_MIGRATIONS}})
                else:
                    log.warning("worker_loop_error", extra={"fields": {"worker_id": self.worker_id,
                                                                       "error": error_report.summary(exc)}})
                time.sleep(min(10.0, idle_sleep * 2 ** min(failures, 8)))
                continue
            if job is None:
                self.wakeup.wait(idle_sleep)  # returns at once when a job is enqueued
        self.wakeup.close()
        try:
            self._maybe_beat(force=True)
        except Exception:  # noqa: BLE001 - shutting down during an outage
            pass
        log.info("worker_stopped", extra={"fields": {"worker_id": self.worker_id}})


# The exit code of a worker refused because another one runs on the same SQLite file.
ALREADY_RUNNING_EXIT_CODE = 3


def main() -> None:
    try:
        settings = load_settings()
    except ConfigError as exc:
        exit_for_config_error(exc)
    configure_logging(settings.log_level)
    run_worker(build_runtime(settings))


def run_worker(runtime: Runtime) -> None:
    """Run a worker until SIGTERM; on SQLite only while no other worker runs on the same file."""
    try:
        lock = take_sqlite_worker_lock(runtime.settings.database_url)
    except WorkerAlreadyRunning as exc:
        print(f"CJ Bridge worker not started: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(ALREADY_RUNNING_EXIT_CODE) from None
    try:
        Worker(runtime).run()
    finally:
        if lock is not None:
            lock.close()


if __name__ == "__main__":
    main()
