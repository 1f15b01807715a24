"""Database-backed job queue: enqueue inside the caller's transaction, lease-based claiming."""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.storage.models import Job
from service.timeutil import utcnow

BACKOFF_BASE_SECONDS = 15
# Claim order among due jobs (lower first). Work that uses CJ's request budget comes before event
# intake, so a burst spends CJ slots from its first second instead of after every event is ingested
# (bench/drain.py: 91 % → steady 97 %); intake cannot starve, since CJ work only comes from it.
KIND_PRIORITY = {"apply_cj_event": 0, "read_cj_orders": 0, "write_back": 0, "forward_order": 1, "cancel_cj_order": 1,
                 "sync_cj_order": 1, "process_event": 2}
DEFAULT_PRIORITY = 3
BACKOFF_CAP_SECONDS = 3600


def priority_of(kind: str) -> int:
    """A job's claim order, stored on the row so that an index serves the claim."""
    return KIND_PRIORITY.get(kind, DEFAULT_PRIORITY)


def enqueue(session: Session, *, kind: str, payload: dict, run_at=None, dedupe_key: str | None = None,
            max_attempts: int = 8) -> Job:
    """Add a job in the caller's transaction; with dedupe_key, a queued twin is returned instead."""
    if dedupe_key:
        existing = session.scalar(select(Job).where(Job.dedupe_key == dedupe_key, Job.status == "queued"))
        if existing is not None:
            if run_at is not None and existing.run_at > run_at:
                existing.run_at = run_at
            return existing
    job = Job(kind=kind, priority=priority_of(kind), payload=payload, run_at=run_at or utcnow(), dedupe_key=dedupe_key,
              max_attempts=max_attempts, status="queued", attempts=0)
    if not dedupe_key:
        session.add(job)
        session.flush()
        return job
    # A concurrent enqueue of the same key may win the race: keep the outer transaction alive.
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        existing = session.scalar(select(Job).where(Job.dedupe_key == dedupe_key, Job.status == "queued"))
        if existing is None:
            raise
        return existing
    return job


def claim(session_factory: sessionmaker[Session], *, worker_id: str, lease_seconds: int,
          expired_leases: bool = True) -> Job | None:
    """Claim one due job (or, with expired_leases, one whose lease expired) for worker_id, committing the lease.

    A worker looks for expired leases about once a second rather than on every claim: they are rare (a
    worker died), and the extra query cost a round trip per job (bench/drain.py).
    """
    session = session_factory()
    try:
        now = utcnow()
        # A job whose worker died (its lease expired) first: there are only ever a few running jobs.
        # Then queued jobs in claim order, along ix_jobs_queued_claim_order: one OR over both cases
        # made PostgreSQL sort every due job on each claim.
        job = None
        queries = [select(Job).where(Job.status == "queued", Job.run_at <= now)]
        if expired_leases:
            queries.insert(0, select(Job).where(Job.status == "running", Job.lease_expires_at < now))
        for stmt in queries:
            stmt = stmt.order_by(Job.priority, Job.run_at, Job.id).limit(1)
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            job = session.scalar(stmt)
            if job is not None:
                break
        if job is None:
            session.commit()
            return None
        job.status = "running"
        job.lease_owner = worker_id
        job.lease_expires_at = now + timedelta(seconds=lease_seconds)
        job.attempts += 1
        session.commit()
        return job
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _owned(job: Job, worker_id: str):
    return (Job.id == job.id) & (Job.lease_owner == worker_id) & (Job.status == "running")


def complete(session: Session, job: Job, *, worker_id: str) -> bool:
    """Mark done in the handler's transaction; False if the lease was lost meanwhile."""
    res = session.execute(update(Job).where(_owned(job, worker_id)).values(
        status="done", finished_at=utcnow(), lease_owner=None, lease_expires_at=None, last_error=None))
    return res.rowcount == 1


def backoff_seconds(attempts: int, base: float = BACKOFF_BASE_SECONDS) -> float:
    """Exponential backoff with jitter on the upper half, capped."""
    ceiling = min(BACKOFF_CAP_SECONDS, base * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def fail(session: Session, job: Job, *, worker_id: str, error: str, retry_after: float | None = None,
         count_attempt: bool = True, permanent: bool = False, backoff_base: float = BACKOFF_BASE_SECONDS) -> str:
    """Record a failure: requeue with backoff, or 'dead' once attempts are used up."""
    attempts = job.attempts if count_attempt else max(0, job.attempts - 1)
    twin = None
    if job.dedupe_key and not permanent:
        twin = session.scalar(select(Job).where(Job.dedupe_key == job.dedupe_key, Job.status == "queued",
                                                Job.id != job.id))
    if twin is not None:
        # A newer trigger already queued the same work: that job runs it, this one is finished.
        status, run_at, error = "done", job.run_at, f"superseded by job {twin.id}: {error}"
        twin.run_at = min(twin.run_at, utcnow() + timedelta(seconds=retry_after or 0))
    elif permanent or (count_attempt and attempts >= job.max_attempts):
        status, run_at = "dead", job.run_at
    else:
        status = "queued"
        delay = retry_after if retry_after is not None else backoff_seconds(attempts, backoff_base)
        run_at = utcnow() + timedelta(seconds=delay)
    session.execute(update(Job).where(_owned(job, worker_id)).values(
        status=status, run_at=run_at, attempts=attempts, last_error=error[:4000],
        lease_owner=None, lease_expires_at=None,
        finished_at=utcnow() if status in ("dead", "done") else None))
    return status


def retry_dead(session: Session, job_id: int) -> Job | None:
    """Admin retry: a dead job becomes queued again with a fresh attempt budget."""
    job = session.get(Job, job_id)
    if job is None:
        return None
    if job.status != "dead":
        raise ValueError(f"job {job_id} is {job.status}, only dead jobs can be retried")
    job.status = "queued"
    job.attempts = 0
    job.run_at = utcnow()
    job.finished_at = None
    return job
