"""Reading a delivery's raw body within limits, and storing it with its job in one transaction."""
from __future__ import annotations

from flask import current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.api_errors import ApiError
from service.job_queue import enqueue
from service.models import DeliveryKey, WebhookEvent

_DROP_HEADERS = {"authorization", "cookie", "x-forwarded-for"}


def read_raw_body(max_bytes: int) -> bytes:
    """The body exactly as sent, read once; over max_bytes → 413 without reading the rest."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise ApiError(413, "payload_too_large", f"body of {length} bytes exceeds MAX_WEBHOOK_BYTES={max_bytes}")
    body = request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ApiError(413, "payload_too_large", f"body exceeds MAX_WEBHOOK_BYTES={max_bytes}")
    return body


def kept_headers() -> dict:
    return {k: v[:500] for k, v in request.headers.items() if k.lower() not in _DROP_HEADERS}


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
    event = WebhookEvent(source=source, store_id=store_id, topic=topic[:128], delivery_id=(delivery_id or "")[:255] or None,
                         raw_body=raw_body, headers=headers, status="queued" if job_kind else "ignored",
                         note=None if job_kind else "topic not handled")
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


def settings():
    return current_app.config["SETTINGS"]
