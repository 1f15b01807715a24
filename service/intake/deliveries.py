"""Storing inbound deliveries with their dedupe keys and jobs: one transaction for a whole batch."""
from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import dataclass
from typing import Sequence

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from service.jobs.queue import priority_of
from service.storage.models import DeliveryKey, Job, WebhookEvent
from service.timeutil import utcnow

# Column widths: values are cut to them once, in Delivery, for both databases.
TOPIC_MAX_CHARS = 128  # webhook_events.topic
DELIVERY_ID_MAX_CHARS = 255  # webhook_events.delivery_id
KEY_MAX_CHARS = 300  # delivery_keys.key

# PostgreSQL: the dedupe check and the three INSERTs for a whole batch in one statement, so a batch
# costs one round trip (with the CPU saturated, each round trip waits to be scheduled twice). Ids are
# drawn first so that keys and jobs can refer to their event by the delivery's position (ord).
# The batch travels as one JSON document plus one binary bytea[] of raw bodies (pos indexes it):
# psycopg adapts each list parameter in Python, element by element, which with one array per column
# cost more than the rest of the batch; json.dumps runs in C, and bodies in binary need no escaping.
# LIMIT 1 keeps the key check an index probe per key whatever the planner thinks of delivery_keys.
_PG_STORE_BATCH_SQL = """
WITH input AS (
  SELECT * FROM json_to_recordset(%(batch)s::json)
    AS t(ord int, pos int, source text, scope text, store_id bigint, topic text, delivery_id text,
         headers json, status text, note text, job_kind text, job_priority smallint, keys text[])
), input_keys AS (
  SELECT ord, scope, unnest(keys) AS key FROM input
), fresh AS MATERIALIZED (
  SELECT nextval(pg_get_serial_sequence('webhook_events', 'id')) AS id, input.* FROM input
  WHERE NOT EXISTS (SELECT 1 FROM input_keys ik, LATERAL (
                      SELECT 1 FROM delivery_keys dk WHERE dk.scope = ik.scope AND dk.key = ik.key LIMIT 1) hit
                    WHERE ik.ord = input.ord)
), ev AS (
  INSERT INTO webhook_events (id, source, store_id, topic, delivery_id, raw_body, headers, status, note, received_at)
  SELECT id, source, store_id, topic, delivery_id, (%(raw_bodies)b::bytea[])[pos], headers, status, note, %(now)s
  FROM fresh
), k AS (
  INSERT INTO delivery_keys (scope, key, event_id, created_at)
  SELECT ik.scope, ik.key, fresh.id, %(now)s FROM fresh JOIN input_keys ik ON ik.ord = fresh.ord
), j AS (
  INSERT INTO jobs (kind, priority, payload, status, run_at, attempts, max_attempts, created_at, updated_at)
  SELECT job_kind, job_priority, json_build_object('event_id', id), 'queued', %(now)s, 0, 8, %(now)s, %(now)s
  FROM fresh WHERE job_kind IS NOT NULL
)
SELECT ord, id FROM fresh
"""


@dataclass(frozen=True)
class Delivery:
    """One inbound delivery, verified, as it will be stored."""
    source: str
    scope: str  # dedupe keys are unique within their scope
    store_id: int | None
    topic: str
    delivery_id: str | None
    raw_body: bytes
    headers: dict
    keys: tuple[str, ...]  # any key already on file makes the delivery a duplicate
    job_kind: str | None  # None: recorded only, nothing to do

    def __post_init__(self):
        object.__setattr__(self, "topic", self.topic[:TOPIC_MAX_CHARS])
        object.__setattr__(self, "delivery_id", (self.delivery_id or "")[:DELIVERY_ID_MAX_CHARS] or None)
        object.__setattr__(self, "keys", tuple(key[:KEY_MAX_CHARS] for key in self.keys))

    @property
    def status(self) -> str:
        """The stored event's status: queued for its job, or recorded only."""
        return "queued" if self.job_kind else "ignored"

    @property
    def job_priority(self) -> int | None:
        return priority_of(self.job_kind) if self.job_kind else None

    @property
    def note(self) -> str | None:
        return None if self.job_kind else "topic not handled"

    def scoped_keys(self) -> set[tuple[str, str]]:
        return {(self.scope, key) for key in self.keys}


@dataclass(frozen=True)
class Stored:
    event_id: int | None  # None for a duplicate
    duplicate: bool


def store_deliveries(engine: Engine, deliveries: Sequence[Delivery]) -> list[Stored]:
    """Store each delivery with its keys and its job, all in one transaction, or find it a duplicate.

    Deliveries are decided in order, as if stored one by one: a delivery sharing a key with one on
    file, or with an earlier one of the batch that is being stored, is a duplicate. Either the whole
    batch is committed or an exception is raised and nothing is stored. Uses its own connection: on
    SQLite the caller must not hold a transaction open meanwhile (it would hold the write lock).
    """
    if not deliveries:
        return []
    try:
        if engine.dialect.name == "postgresql":
            return _store_batch_postgres(engine, deliveries)
        return _store_batch_sqlite(engine, deliveries)
    except IntegrityError:
        # Another process committed one of these keys after our check (a platform redelivering
        # concurrently to two web processes). Alone, each delivery meets the constraint by itself.
        if len(deliveries) > 1:
            return [store_deliveries(engine, [delivery])[0] for delivery in deliveries]
        with engine.connect() as conn:
            if _keys_on_file(conn, deliveries[0].scoped_keys()):
                return [Stored(event_id=None, duplicate=True)]
        raise  # a different constraint failed: not acknowledged, the platform delivers again


def _store_batch_sqlite(engine: Engine, deliveries: Sequence[Delivery]) -> list[Stored]:
    # The INSERTs go straight to the sqlite3 cursor (executemany runs its loop in C): through Core they
    # cost more than the rest of the web request. Values are bound with the columns' own SQLAlchemy
    # processors, so they are stored exactly as the ORM stores and reads them.
    bind = _sqlite_binders(engine.dialect)
    now = bind["datetime"](utcnow())
    with engine.begin() as conn:  # BEGIN IMMEDIATE: no other writer until the commit
        claimed = _keys_on_file(conn, set().union(*(d.scoped_keys() for d in deliveries)))
        results: list[Stored] = []
        fresh: list[tuple[int, Delivery]] = []
        for index, delivery in enumerate(deliveries):
            keys = delivery.scoped_keys()
            if keys & claimed:
                results.append(Stored(event_id=None, duplicate=True))
                continue
            claimed |= keys
            fresh.append((index, delivery))
            results.append(Stored(event_id=None, duplicate=False))  # its id is filled in below
        if not fresh:
            return results
        cursor = conn.connection.driver_connection.cursor()
        try:
            event_ids = []
            for _, d in fresh:
                cursor.execute(_SQLITE_INSERT_EVENT, (
                    d.source, d.store_id, d.topic, d.delivery_id, d.raw_body, bind["json"](d.headers), d.status,
                    d.note, now))
                event_ids.append(cursor.lastrowid)
            key_rows = [(scope, key, event_id, now) for (_, d), event_id in zip(fresh, event_ids)
                        for scope, key in sorted(d.scoped_keys())]
            job_rows = [(d.job_kind, d.job_priority, bind["json"]({"event_id": event_id}), "queued", now, 0, 8, now,
                         now)
                        for (_, d), event_id in zip(fresh, event_ids) if d.job_kind]
            if key_rows:
                cursor.executemany(_SQLITE_INSERT_KEY, key_rows)
            if job_rows:
                cursor.executemany(_SQLITE_INSERT_JOB, job_rows)
        except sqlite3.Error as exc:  # as SQLAlchemy would raise it: IntegrityError, OperationalError, …
            raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc
        finally:
            cursor.close()
    for (index, _), event_id in zip(fresh, event_ids):
        results[index] = Stored(event_id=event_id, duplicate=False)
    return results


_SQLITE_INSERT_EVENT = ("INSERT INTO webhook_events (source, store_id, topic, delivery_id, raw_body, headers, status, "
                        "note, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_SQLITE_INSERT_KEY = "INSERT INTO delivery_keys (scope, key, event_id, created_at) VALUES (?, ?, ?, ?)"
_SQLITE_INSERT_JOB = ("INSERT INTO jobs (kind, priority, payload, status, run_at, attempts, max_attempts, "
                      "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


@functools.lru_cache(maxsize=4)
def _sqlite_binders(dialect) -> dict:
    def binder(column):
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        return process or (lambda value: value)
    return {"datetime": binder(WebhookEvent.__table__.c.received_at), "json": binder(Job.__table__.c.payload)}


def _store_batch_postgres(engine: Engine, deliveries: Sequence[Delivery]) -> list[Stored]:
    # The statement checks keys against the table only, so deliveries that share a key are sent in
    # separate rounds, in order: a later round sees what an earlier one stored, in the same transaction.
    rounds: list[list[int]] = []
    round_of_key: dict[tuple[str, str], int] = {}
    for index, delivery in enumerate(deliveries):
        keys = delivery.scoped_keys()
        position = 1 + max((round_of_key[key] for key in keys if key in round_of_key), default=-1)
        if position == len(rounds):
            rounds.append([])
        rounds[position].append(index)
        round_of_key.update(dict.fromkeys(keys, position))
    results: list[Stored | None] = [None] * len(deliveries)
    now = utcnow()
    # Straight on the pooled psycopg connection: through SQLAlchemy's Connection the statement's
    # Python overhead was about twice that of psycopg alone (0.19 vs 0.08 ms per delivery in pairs).
    pooled = engine.raw_connection()
    pg = pooled.driver_connection
    try:
        # The usual single round runs in autocommit: atomic by itself, no BEGIN/COMMIT round trips.
        pg.autocommit = len(rounds) == 1
        with pg.cursor() as cursor:
            for members in rounds:
                batch = json.dumps([{
                    "ord": ord_, "pos": pos, "source": d.source, "scope": d.scope, "store_id": d.store_id,
                    "topic": d.topic, "delivery_id": d.delivery_id, "headers": d.headers, "status": d.status,
                    "note": d.note, "job_kind": d.job_kind, "job_priority": d.job_priority,
                    "keys": sorted(set(d.keys))}
                    for pos, (ord_, d) in enumerate(((ord_, deliveries[ord_]) for ord_ in members), start=1)])
                cursor.execute(_PG_STORE_BATCH_SQL, {
                    "batch": batch, "raw_bodies": [deliveries[ord_].raw_body for ord_ in members], "now": now})
                stored = dict(cursor.fetchall())
                for ord_ in members:
                    event_id = stored.get(ord_)
                    results[ord_] = Stored(event_id=event_id, duplicate=event_id is None)
        if not pg.autocommit:
            pg.commit()
    except psycopg.Error as exc:
        if pg.closed or pg.broken:
            pooled.invalidate()  # a database restart: the pool must not hand this connection out again
        raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc  # as SQLAlchemy would raise it
    finally:
        try:
            if not (pg.closed or pg.broken):
                pg.rollback()  # nothing to undo after a commit or in autocommit; else the failed rounds
                pg.autocommit = False
        finally:
            pooled.close()  # back to the pool
    return results


def _keys_on_file(conn: Connection, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (scope, key) pairs are already stored."""
    if not keys:
        return set()
    # Both columns, so the lookup uses the unique (scope, key) index.
    rows = conn.execute(select(DeliveryKey.scope, DeliveryKey.key).where(
        DeliveryKey.scope.in_({scope for scope, _ in keys}), DeliveryKey.key.in_({key for _, key in keys}))).all()
    return {(scope, key) for scope, key in rows} & keys


def store_scope(platform: str, store_id: int) -> str:
    """The dedupe scope of one store's deliveries."""
    return f"{platform}:{store_id}"
