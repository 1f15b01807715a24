"""Storing an inbound delivery with its dedupe keys and its job, in one transaction."""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.models import DeliveryKey, Job, WebhookEvent
from service.timeutil import utcnow


# Built once: parameters are bound at execution, so SQLAlchemy's compiled-statement cache always hits.
_INSERT_EVENT = insert(WebhookEvent.__table__).returning(WebhookEvent.__table__.c.id)
_INSERT_KEY = insert(DeliveryKey.__table__)
_INSERT_JOB = insert(Job.__table__)


def store_and_enqueue(session: Session, *, source: str, scope: str, store_id: int | None, topic: str,
                      delivery_id: str | None, raw_body: bytes, headers: dict, keys: list[str],
                      job_kind: str | None) -> tuple[int | None, bool]:
    """Insert the event, its dedupe keys and its job, then commit: all or nothing.

    Returns (event id, duplicate). The unique (scope, key) constraint is the dedupe check: a key
    already on file rolls everything back and the delivery counts as a duplicate. This is the hot
    path of every webhook, so it uses plain INSERTs (no ORM unit of work, no look-up first).
    """
    now = utcnow()
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
        # Only a key already on file makes this a duplicate; any other constraint failure must not
        # be acknowledged (the caller answers non-2xx and the platform delivers again).
        if keys and session.scalar(select(DeliveryKey.id).where(DeliveryKey.scope == scope,
                                                              DeliveryKey.key.in_(keys)).limit(1)):
            session.rollback()
            return None, True
        raise
    return event_id, False


def store_scope(platform: str, store_id: int) -> str:
    """The dedupe scope of one store's deliveries."""
    return f"{platform}:{store_id}"
