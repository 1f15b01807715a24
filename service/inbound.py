"""Storing an inbound delivery with its dedupe keys and its job, in one transaction."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.job_queue import enqueue
from service.models import DeliveryKey, WebhookEvent


def store_and_enqueue(session: Session, *, source: str, scope: str, store_id: int | None, topic: str,
                      delivery_id: str | None, raw_body: bytes, headers: dict, keys: list[str],
                      job_kind: str | None) -> tuple[WebhookEvent | None, bool]:
    """Insert the event, its dedupe keys and its job, then commit: all or nothing.

    Returns (event, duplicate). A key already on file means the delivery was seen: nothing is stored.
    """
    if keys and session.scalar(select(DeliveryKey.id).where(DeliveryKey.scope == scope,
                                                          DeliveryKey.key.in_(keys)).limit(1)):
        session.rollback()
        return None, True
    event = WebhookEvent(source=source, store_id=store_id, topic=topic[:128],
                         delivery_id=(delivery_id or "")[:255] or None, raw_body=raw_body, headers=headers,
                         status="queued" if job_kind else "ignored", note=None if job_kind else "topic not handled")
    session.add(event)
    try:
        session.flush()
        for key in keys:
            session.add(DeliveryKey(scope=scope, key=key[:300], event_id=event.id))
        session.flush()
    except IntegrityError:
        # A concurrent twin got its keys in first: that one is the delivery we keep.
        session.rollback()
        return None, True
    if job_kind:
        enqueue(session, kind=job_kind, payload={"event_id": event.id})
    session.commit()
    return event, False


def store_scope(platform: str, store_id: int) -> str:
    """The dedupe scope of one store's deliveries."""
    return f"{platform}:{store_id}"
