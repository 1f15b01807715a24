"""store_deliveries: a batch stored in one transaction, decided as if stored one by one."""
from __future__ import annotations

from datetime import datetime
from unittest import mock

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.intake import deliveries
from service.intake.deliveries import Delivery, Stored, store_deliveries
from service.jobs.queue import priority_of
from service.storage.models import DeliveryKey, Job, WebhookEvent
from service.timeutil import utcnow


def delivery(*keys: str, scope="shopify:1", job_kind="process_event", delivery_id=None) -> Delivery:
    return Delivery(source="shopify", scope=scope, store_id=None, topic="orders/paid",
                    delivery_id=delivery_id or (keys[0] if keys else None), raw_body=b'{"id": 1}',
                    headers={"X-Shopify-Topic": "orders/paid"}, keys=keys, job_kind=job_kind)


def rows(session_factory):
    with session_factory() as s:
        events = {e.id: e.delivery_id for e in s.scalars(select(WebhookEvent))}
        keys = {(k.scope, k.key): k.event_id for k in s.scalars(select(DeliveryKey))}
        jobs = {j.payload["event_id"]: j.kind for j in s.scalars(select(Job))}
    return events, keys, jobs


def test_a_batch_is_stored_with_each_event_its_own_keys_and_job(engine, session_factory):
    batch = [delivery(f"webhook-id:{n}", f"event-id:orders/paid:{n}") for n in range(5)]
    results = store_deliveries(engine, batch)
    assert [r.duplicate for r in results] == [False] * 5
    events, keys, jobs = rows(session_factory)
    # Ids came back in the order of the batch: each result points at its own delivery's row.
    assert [events[r.event_id] for r in results] == [d.delivery_id for d in batch]
    for d, r in zip(batch, results):
        assert keys[("shopify:1", d.keys[0])] == keys[("shopify:1", d.keys[1])] == r.event_id
        assert jobs[r.event_id] == "process_event"
    # Stored as the ORM stores them: it reads back the same values and types.
    with session_factory() as s:
        event = s.get(WebhookEvent, results[0].event_id)
        assert (event.raw_body, event.headers, event.status) == (batch[0].raw_body, batch[0].headers, "queued")
        job = s.scalars(select(Job)).first()
        assert isinstance(job.run_at, datetime) and job.run_at <= utcnow() and job.payload["event_id"] in events
        assert job.priority == priority_of("process_event") == 2  # claimed in the same order as enqueue()'s jobs


def test_duplicates_on_file_and_inside_the_batch(engine, session_factory):
    [first] = store_deliveries(engine, [delivery("webhook-id:a")])
    results = store_deliveries(engine, [delivery("webhook-id:a"), delivery("webhook-id:b"),
                                        delivery("webhook-id:b", delivery_id="b-again"),
                                        delivery("webhook-id:a", scope="shopify:2")])
    assert [r.duplicate for r in results] == [True, False, True, False]  # scopes do not share keys
    assert results[0] == Stored(event_id=None, duplicate=True)
    events, _keys, jobs = rows(session_factory)
    assert len(events) == len(jobs) == 3 and first.event_id in events
    assert "b-again" not in events.values()


def test_a_duplicate_does_not_claim_its_other_keys(engine, session_factory):
    """As one by one: the first delivery is a duplicate (key a on file) and is not stored, so key b is
    still free for the next delivery of the batch."""
    store_deliveries(engine, [delivery("k:a")])
    results = store_deliveries(engine, [delivery("k:a", "k:b", delivery_id="first"),
                                        delivery("k:b", delivery_id="second")])
    assert [r.duplicate for r in results] == [True, False]
    events, keys, _jobs = rows(session_factory)
    assert events[keys[("shopify:1", "k:b")]] == "second"


def test_recorded_only_deliveries_get_no_job(engine, session_factory):
    [result] = store_deliveries(engine, [delivery(job_kind=None)])
    events, keys, jobs = rows(session_factory)
    assert result.event_id in events and not keys and not jobs
    with session_factory() as s:
        assert s.get(WebhookEvent, result.event_id).status == "ignored"


def broken_job_insert():
    """Storing the job fails on a constraint (kind NULL), on either database."""
    return (mock.patch.object(deliveries, "_PG_STORE_BATCH_SQL", deliveries._PG_STORE_BATCH_SQL.replace(
                "SELECT job_kind,", "SELECT NULL,")),
            mock.patch.object(deliveries, "_SQLITE_INSERT_JOB", deliveries._SQLITE_INSERT_JOB.replace(
                "VALUES (?,", "VALUES (CASE WHEN ? IS NULL THEN 1 END,")))


def test_a_key_committed_concurrently_falls_back_to_one_by_one(engine, session_factory):
    """Another web process stores the same key between our check and our insert: the batch fails on
    the unique constraint, and each delivery is then decided alone."""
    store_deliveries(engine, [delivery("webhook-id:raced")])
    real_check, real_statement = deliveries._keys_on_file, deliveries._PG_STORE_BATCH_SQL
    blind_statement = real_statement.replace("WHERE NOT EXISTS", "WHERE true OR EXISTS")
    calls = []

    def check_that_misses_the_race(conn, keys):  # SQLite: the check before the INSERTs
        calls.append(keys)
        return set() if len(calls) == 1 else real_check(conn, keys)

    def statement_that_misses_the_race(*args):  # PostgreSQL: the check inside the one statement
        calls.append(args)
        deliveries._PG_STORE_BATCH_SQL = blind_statement if len(calls) == 1 else real_statement
        try:
            return real_batch(*args)
        finally:
            deliveries._PG_STORE_BATCH_SQL = real_statement

    real_batch = deliveries._store_batch_postgres
    with mock.patch.object(deliveries, "_keys_on_file", check_that_misses_the_race), \
            mock.patch.object(deliveries, "_store_batch_postgres", statement_that_misses_the_race):
        results = store_deliveries(engine, [delivery("webhook-id:fresh"), delivery("webhook-id:raced")])
    assert [r.duplicate for r in results] == [False, True]
    events, _keys, jobs = rows(session_factory)
    assert sorted(events.values()) == ["webhook-id:fresh", "webhook-id:raced"] and len(jobs) == 2


def test_any_other_failure_stores_nothing(engine, session_factory):
    pg_patch, sqlite_patch = broken_job_insert()
    with pg_patch, sqlite_patch:
        with pytest.raises(IntegrityError):
            store_deliveries(engine, [delivery("k:1"), delivery("k:2")])
    assert rows(session_factory) == ({}, {}, {})
    assert [r.duplicate for r in store_deliveries(engine, [delivery("k:1")])] == [False]


def test_deliveries_sharing_keys_in_one_batch_are_decided_in_order(engine, session_factory):
    """d2 repeats d1's key a and adds b; d3 has b only. As one by one: d1 stored, d2 a duplicate (so b
    stays free), d3 stored."""
    results = store_deliveries(engine, [delivery("k:a", delivery_id="d1"), delivery("k:a", "k:b", delivery_id="d2"),
                                        delivery("k:b", delivery_id="d3"), delivery("k:c", delivery_id="d4")])
    assert [r.duplicate for r in results] == [False, True, False, False]
    events, keys, _jobs = rows(session_factory)
    assert sorted(events.values()) == ["d1", "d3", "d4"]
    assert events[keys[("shopify:1", "k:b")]] == "d3"


def test_long_keys_are_cut_to_the_column_and_still_deduplicate(engine, session_factory):
    long_key = "webhook-id:" + "x" * 400
    first, again = store_deliveries(engine, [delivery(long_key), delivery(long_key + "tail")])
    assert not first.duplicate and again.duplicate
    _events, keys, _jobs = rows(session_factory)
    assert [len(key) for _scope, key in keys] == [deliveries.KEY_MAX_CHARS]


def test_postgres_connection_lost_between_batches_is_replaced(engine, session_factory):
    """A database restart kills the intake connection: that batch fails (not acknowledged), and the
    next one gets a fresh connection instead of the dead one from the pool."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL connection handling")
    from sqlalchemy import text as sql
    from sqlalchemy.exc import OperationalError

    from service.storage.database import make_intake_engine
    intake = make_intake_engine(engine)
    store_deliveries(intake, [delivery("k:before")])
    pooled = intake.raw_connection()
    backend_pid = pooled.driver_connection.info.backend_pid
    pooled.close()
    with engine.begin() as conn:
        conn.execute(sql("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid})
    with pytest.raises(OperationalError):
        store_deliveries(intake, [delivery("k:during")])
    assert [r.duplicate for r in store_deliveries(intake, [delivery("k:during")])] == [False]
    events, _keys, _jobs = rows(session_factory)
    assert sorted(events.values()) == ["k:before", "k:during"]
