"""Storing an inbound delivery with its dedupe keys and its job, in one transaction."""
from __future__ import annotations

import json

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import Text

from service.models import DeliveryKey, Job, WebhookEvent
from service.timeutil import utcnow


# Built once: parameters are bound at execution, so SQLAlchemy's compiled-statement cache always hits.
_INSERT_EVENT = insert(WebhookEvent.__table__).returning(WebhookEvent.__table__.c.id)
_INSERT_KEY = insert(DeliveryKey.__table__)
_INSERT_JOB = insert(Job.__table__)


# PostgreSQL: event, keys and job in one statement. Run in autocommit it is atomic by itself and
# costs a single round trip (bench/ingest.py: BEGIN + three INSERTs + COMMIT was the ingest ceiling).
_PG_STORE_AND_ENQUEUE = text("""
WITH ev AS (
  INSERT INTO webhook_events (source, store_id, topic, delivery_id, raw_body, headers, status, note, received_at)
  VALUES (:source, :store_id, :topic, :delivery_id, :raw_body, CAST(:headers AS json), :status, :note, :now)
  RETURNING id
), k AS (
  INSERT INTO delivery_keys (scope, key, event_id, created_at)
  SELECT :scope, key, ev.id, :now FROM ev, unnest(:keys) AS key
), j AS (
  INSERT INTO jobs (kind, payload, status, run_at, attempts, max_attempts, created_at, updated_at)
  SELECT :job_kind, json_build_object('event_id', ev.id), 'queued', :now, 0, 8, :now, :now
  FROM ev WHERE :job_kind IS NOT NULL
)
SELECT id FROM ev
""").bindparams(bindparam("keys", type_=ARRAY(Text)), bindparam("job_kind", type_=Text))


def store_and_enqueue(session: Session, *, source: str, scope: str, store_id: int | None, topic: str,
                      delivery_id: str | None, raw_body: bytes, headers: dict, keys: list[str],
                      job_kind: str | None) -> tuple[int | None, bool]:
    """Insert the event, its dedupe keys and its job, then commit: all or nothing. Commits `session`.

    Returns (event id, duplicate). The unique (scope, key) constraint is the dedupe check: a key
    already on file rolls everything back and the delivery counts as a duplicate. This is the hot
    path of every webhook, so it uses plain INSERTs (no ORM unit of work, no look-up first).
    """
    now = utcnow()
    if session.bind.dialect.name == "postgresql":
        return _store_and_enqueue_postgres(session, source=source, scope=scope, store_id=store_id, topic=topic,
                                           delivery_id=delivery_id, raw_body=raw_body, headers=headers,
                                           keys=keys, job_kind=job_kind, now=now)
    try:
        event_id = session.execute(_INSERT_EVENT, {
            "source": source, "store_id": store_id, "topic": topic[:128],
            "delivery_id": (delivery_id or "")[:255] or None, "raw_body": raw_body, "headers": headers,
            "status": "queued" if job_kind else "ignored", "note": None if job_kind else "topic not handled",
            "received_at": now}).scalar_one()
        if keys:
            session.execute(_INSERT_KEY, [{"scope": scope, "key": key[:300], "event_id": event_id,
                                           "created_at": now} for key in keys])
        if job_kind:
            session.execute(_INSERT_JOB, {"kind": job_kind, "payload": {"event_id": event_id}, "status": "queued",
                                          "run_at": now, "attempts": 0, "max_attempts": 8, "created_at": now,
                                          "updated_at": now})
        session.commit()
    except IntegrityError:
        session.rollback()
        duplicate = _key_on_file(session, scope, keys)
        session.rollback()
        if duplicate:
            return None, True
        raise
    return event_id, False


def _store_and_enqueue_postgres(session: Session, *, source, scope, store_id, topic, delivery_id, raw_body,
                                headers, keys, job_kind, now) -> tuple[int | None, bool]:
    session.commit()  # as on SQLite, the caller's pending work is committed first (free when there is none)
    engine = session.bind
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        try:
            event_id = conn.execute(_PG_STORE_AND_ENQUEUE, {
                "source": source, "store_id": store_id, "topic": topic[:128],
                "delivery_id": (delivery_id or "")[:255] or None, "raw_body": raw_body,
                "headers": json.dumps(headers), "status": "queued" if job_kind else "ignored",
                "note": None if job_kind else "topic not handled", "now": now, "scope": scope,
                "keys": [k[:300] for k in keys], "job_kind": job_kind}).scalar_one()
        except IntegrityError:
            if _key_on_file(conn, scope, keys):
                return None, True
            raise
    return event_id, False


def _key_on_file(db, scope: str, keys: list[str]) -> bool:
    """After a constraint failure: was it one of this delivery's keys (a duplicate)? Any other failure
    must not be acknowledged (the caller answers non-2xx and the platform delivers again)."""
    return bool(keys) and db.execute(select(DeliveryKey.id).where(
        DeliveryKey.scope == scope, DeliveryKey.key.in_(keys)).limit(1)).first() is not None


def store_scope(platform: str, store_id: int) -> str:
    """The dedupe scope of one store's deliveries."""
    return f"{platform}:{store_id}"
