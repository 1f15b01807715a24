"""The DB-backed queue: leases, backoff, dead jobs, dedupe keys, concurrent claiming."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update

from service.storage.database import make_engine, make_session_factory
from service.jobs.outcomes import NeedsHuman, RetryLater
from service.jobs.queue import backoff_seconds, claim, enqueue, retry_dead
from service.storage.models import Job
from service.timeutil import utcnow
from service.jobs.worker import run_job


def _enqueue(session_factory, n=1, **kw):
    with session_factory() as s:
        jobs = [enqueue(s, kind=kw.get("kind", "noop"), payload={"i": i}, dedupe_key=kw.get("dedupe_key"))
                for i in range(n)]
        s.commit()
        return [j.id for j in jobs]


def test_claim_takes_due_jobs_once_and_respects_leases(session_factory):
    (job_id,) = _enqueue(session_factory)
    job = claim(session_factory, worker_id="a", lease_seconds=60)
    assert job.id == job_id and job.attempts == 1 and job.status == "running"
    assert claim(session_factory, worker_id="b", lease_seconds=60) is None
    with session_factory() as s:
        s.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    again = claim(session_factory, worker_id="b", lease_seconds=60)
    assert again.id == job_id and again.attempts == 2 and again.lease_owner == "b"


def test_future_jobs_are_not_claimed(session_factory):
    with session_factory() as s:
        enqueue(s, kind="noop", payload={}, run_at=utcnow() + timedelta(minutes=5))
        s.commit()
    assert claim(session_factory, worker_id="a", lease_seconds=60) is None


def test_dedupe_key_returns_the_active_twin(session_factory):
    first = _enqueue(session_factory, dedupe_key="forward_order:1")
    second = _enqueue(session_factory, dedupe_key="forward_order:1")
    assert first == second


def _runtime_for(runtime, handler):
    return {"noop": handler}


def test_retry_later_backs_off_then_dead_after_max_attempts(runtime, session_factory):
    _enqueue(session_factory)
    handlers = {"noop": lambda s, p, rt: (_ for _ in ()).throw(RetryLater("CJ busy"))}
    for attempt in range(1, 9):
        with session_factory() as s:
            s.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
            s.commit()
        job = claim(session_factory, worker_id="w", lease_seconds=60)
        status = run_job(runtime, job, worker_id="w", handlers=handlers)
        assert status == ("dead" if attempt == 8 else "queued")
    with session_factory() as s:
        job = s.scalars(select(Job)).one()
        assert job.status == "dead" and job.last_error == "CJ busy" and job.attempts == 8


def test_backoff_grows_and_is_jittered():
    samples = [backoff_seconds(1) for _ in range(50)]
    assert all(7.5 <= v <= 15 for v in samples) and len(set(samples)) > 1
    assert 60 <= backoff_seconds(4) <= 120
    assert backoff_seconds(30) <= 3600


def test_needs_human_goes_dead_at_once_and_admin_can_retry(runtime, session_factory, client):
    (job_id,) = _enqueue(session_factory)
    handlers = {"noop": lambda s, p, rt: (_ for _ in ()).throw(NeedsHuman("store_auth_failed", "bad token"))}
    job = claim(session_factory, worker_id="w", lease_seconds=60)
    assert run_job(runtime, job, worker_id="w", handlers=handlers) == "dead"
    from tests.conftest import admin_headers
    dead = client.get("/admin/jobs?status=dead", headers=admin_headers()).get_json()["data"]
    assert [j["id"] for j in dead] == [job_id] and "bad token" in dead[0]["last_error"]
    res = client.post(f"/admin/jobs/{job_id}/retry", headers=admin_headers())
    assert res.status_code == 202 and res.get_json()["data"]["status"] == "queued"
    assert client.post(f"/admin/jobs/{job_id}/retry", headers=admin_headers()).status_code == 409


def test_a_crashing_handler_is_retried_not_lost(runtime, session_factory):
    _enqueue(session_factory)
    job = claim(session_factory, worker_id="w", lease_seconds=60)
    status = run_job(runtime, job, worker_id="w", handlers={"noop": lambda s, p, rt: 1 / 0})
    assert status == "queued"
    with session_factory() as s:
        assert "ZeroDivisionError" in s.scalars(select(Job)).one().last_error


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_new_owner(runtime, session_factory):
    _enqueue(session_factory)
    stale = claim(session_factory, worker_id="old", lease_seconds=60)
    with session_factory() as s:
        s.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    claim(session_factory, worker_id="new", lease_seconds=60)
    run_job(runtime, stale, worker_id="old", handlers={"noop": lambda s, p, rt: "ok"})
    with session_factory() as s:
        job = s.scalars(select(Job)).one()
        assert job.status == "running" and job.lease_owner == "new"


def test_concurrent_workers_claim_disjoint_jobs(database_url, session_factory):
    """Four workers with their own connections drain 60 jobs: each job is claimed exactly once."""
    job_ids = _enqueue(session_factory, n=60)
    claimed: dict[str, list[int]] = {}
    errors = []
    barrier = threading.Barrier(4)

    def worker(name):
        engine = make_engine(database_url)
        factory = make_session_factory(engine)
        mine = claimed.setdefault(name, [])
        try:
            barrier.wait()
            while True:
                job = claim(factory, worker_id=name, lease_seconds=300)
                if job is None:
                    return
                mine.append(job.id)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    all_claims = [j for ids in claimed.values() for j in ids]
    assert sorted(all_claims) == sorted(job_ids)  # every job once, none twice


def test_retry_dead_rejects_live_jobs(session_factory):
    (job_id,) = _enqueue(session_factory)
    with session_factory() as s:
        try:
            retry_dead(s, job_id)
        except ValueError as exc:
            assert "only dead jobs" in str(exc)
        else:
            raise AssertionError("a queued job must not be 'retried'")


def test_a_trigger_during_a_running_job_queues_a_follow_up(session_factory):
    (first,) = _enqueue(session_factory, dedupe_key="forward_order:7")
    claim(session_factory, worker_id="w", lease_seconds=60)
    (second,) = _enqueue(session_factory, dedupe_key="forward_order:7")
    assert second != first  # the running job may already have read the state this trigger changed
    assert _enqueue(session_factory, dedupe_key="forward_order:7") == [second]


def test_a_retry_with_a_queued_twin_hands_the_work_over(runtime, session_factory):
    (first,) = _enqueue(session_factory, dedupe_key="forward_order:8")
    job = claim(session_factory, worker_id="w", lease_seconds=60)
    (second,) = _enqueue(session_factory, dedupe_key="forward_order:8")
    status = run_job(runtime, job, worker_id="w",
                     handlers={"noop": lambda s, p, rt: (_ for _ in ()).throw(RetryLater("busy"))})
    assert status == "done"
    with session_factory() as s:
        assert s.get(Job, first).last_error.startswith(f"superseded by job {second}")
        assert s.get(Job, second).status == "queued"


def test_jobs_for_an_order_locked_elsewhere_wait_without_an_attempt(runtime, session_factory, engine):
    if engine.dialect.name != "postgresql":
        import pytest
        pytest.skip("advisory locks exist on PostgreSQL; SQLite runs a single worker")
    from service.jobs.order_lock import order_lock
    with session_factory() as s:
        enqueue(s, kind="noop", payload={"order_id": 42})
        s.commit()
    job = claim(session_factory, worker_id="w", lease_seconds=60)
    ran = []
    with order_lock(engine, 42) as held:
        assert held
        status = run_job(runtime, job, worker_id="w", handlers={"noop": lambda s, p, rt: ran.append(1)})
    assert status == "queued" and ran == []
    with session_factory() as s:
        assert s.get(Job, job.id).attempts == 0


def test_cj_bound_work_is_claimed_before_event_intake(session_factory):
    with session_factory() as s:
        intake = enqueue(s, kind="process_event", payload={"event_id": 1}, run_at=utcnow() - timedelta(minutes=5))
        housekeeping = enqueue(s, kind="purge_old_events", payload={}, run_at=utcnow() - timedelta(minutes=9))
        forward = enqueue(s, kind="forward_order", payload={"order_id": 1})
        write_back = enqueue(s, kind="write_back", payload={"order_id": 2})
        s.commit()
        expected = [write_back.id, forward.id, intake.id, housekeeping.id]
    claimed = [claim(session_factory, worker_id="w", lease_seconds=60).id for _ in range(4)]
    assert claimed == expected


def test_the_order_lock_is_scoped_to_this_database(engine):
    """Advisory locks are server-wide: two deployments (or test runs) on one server must not share them."""
    if engine.dialect.name != "postgresql":
        import pytest
        pytest.skip("advisory locks exist on PostgreSQL; SQLite runs a single worker")
    import sqlalchemy as sa
    from service.jobs.order_lock import order_lock
    with order_lock(engine, 42) as held, engine.connect() as conn:
        assert held
        classes = conn.execute(sa.text("SELECT classid::bigint FROM pg_locks WHERE locktype = 'advisory' "
                                       "AND objid = 42 AND objsubid = 2")).scalars().all()
        this_database = conn.execute(sa.text("SELECT hashtext('cj_bridge:' || current_database())")).scalar()
        other_database = conn.execute(sa.text("SELECT hashtext('cj_bridge:another_database')")).scalar()
    # pg_locks shows the first key as an oid (unsigned); hashtext gives a signed int4.
    assert [c & 0xFFFFFFFF for c in classes] == [this_database & 0xFFFFFFFF]
    assert this_database != other_database
