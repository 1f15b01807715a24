"""CJ's webhooks as hints: a message names orders to read from CJ's API, in batches; its content is not trusted.

CJ signs its webhooks with HMAC keyed by the account's numeric openId, which CJ's own LOGISTIC bodies carry in
clear: a forged message is one captured message away. So nothing a message says is applied. It only marks
the orders it names (ours only) for a read, and one job reads every marked order with a single order-list
call (up to 100 ids, 0 points): a burst of messages costs a few calls, not one per message. What CJ's API
answers is applied (service/pipeline/cj_updates.py); tracking URLs are checked on the way
(service/pipeline/tracking_urls.py).
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.cj.errors import CjApiError, CjTransportError, retry_if_transient
from service.cj.order_ids import cj_ids
from service.intake import json_body
from service.jobs.order_lock import order_lock
from service.jobs.outcomes import RetryLater
from service.jobs.queue import enqueue
from service.storage.models import Order, WebhookEvent
from service.pipeline import cj_order_parts
from service.pipeline.cj_updates import READ_JOB, apply_cj_read, request_reads
from service.pipeline.order_state import note
from service.runtime import Runtime
from service.timeutil import utcnow

log = logging.getLogger("cj_bridge.pipeline")
BATCH = 100  # order ids per order-list call
BUSY_RETRY_SECONDS = 2.0


def queued_cj_message(session: Session, event_id: int) -> tuple[WebhookEvent, dict] | None:
    """A stored CJ message not processed yet, and its body as an object ({} when it is not one)."""
    event = session.get(WebhookEvent, event_id)
    if event is None or event.status != "queued":
        return None
    try:
        message = json_body.loads(event.raw_body)
    except ValueError:
        message = {}
    return event, message if isinstance(message, dict) else {}


def apply_cj_event(session: Session, *, event_id: int, runtime: Runtime | None = None) -> str:
    """A stored CJ message: mark the orders it names for a read from CJ's API."""
    queued = queued_cj_message(session, event_id)
    if queued is None:
        return "already_processed"
    event, message = queued
    ids = _orders_named(session, message)
    params = message.get("params") if isinstance(message.get("params"), dict) else {}
    if ids and str(message.get("type") or "").upper() == "ORDERSPLIT":
        cj_order_parts.note_claimed_parts(session, order_ids=ids, params=params)
    request_reads(session, order_ids=ids)
    outcome = f"read requested for {len(ids)} order(s)" if ids else "no_matching_order"
    event.status = "processed"
    event.note = outcome
    event.processed_at = utcnow()
    log.info("cj_event_processed", extra={"fields": {"event_id": event.id, "topic": event.topic, "orders": ids}})
    return outcome


def _orders_named(session: Session, message: dict) -> list[int]:
    """Our orders a message names, by our orderNumber or CJ's order id (whatever the message claims)."""
    params = message.get("params") if isinstance(message.get("params"), dict) else {}
    numbers = {str(v) for v in (params.get("orderNumber"), params.get("orderNum")) if v not in (None, "")}
    numbers |= {str(v) for v in params.get("storeOrderNumbers") or [] if isinstance(v, (str, int))}
    cj_id, _code = cj_ids(params)
    ids = {cj_id} if cj_id else set()
    if params.get("originalOrderId") not in (None, ""):  # ORDERSPLIT
        ids.add(str(params["originalOrderId"]))
    if not numbers and not ids:
        return []
    # A part CJ split out of one of our orders is named by its own id or code (LOGISTIC for that parcel).
    of_parts = cj_order_parts.orders_with_parts(session, ids | numbers)
    conditions = [Order.id.in_(of_parts)] if of_parts else []
    if numbers:
        conditions.append(Order.cj_order_number.in_(numbers))
    if ids:
        conditions.append(Order.cj_order_id.in_(ids))
    return list(session.scalars(select(Order.id).where(or_(*conditions)).limit(10)))


def read_marked_orders(session: Session, *, runtime: Runtime) -> str:
    """Read every order marked for a read from CJ's API (a batch per call) and apply what CJ says."""
    marked = session.scalars(select(Order).where(Order.cj_sync_requested_at.is_not(None))
                             .order_by(Order.cj_sync_requested_at).limit(BATCH)).all()
    if not marked:
        return "nothing_marked"
    if runtime.settings.cj_dry_run:
        for order in marked:
            order.cj_sync_requested_at = None
        return "dry_run"
    by_id = {o.cj_order_id: o for o in marked if o.cj_order_id}
    without_id = [o for o in marked if not o.cj_order_id]
    parts = cj_order_parts.parts_to_read(session, [o.id for o in marked])
    session.commit()  # no transaction stays open across CJ's calls
    answers: dict[int, dict | None] = {}
    part_answers: dict[int, dict | None] = {}
    try:
        for part in parts:  # one detail read each: a split is rare
            part_answers[part.id] = runtime.cj.get_order_detail(part.part_ref)
        if by_id:
            for row in runtime.cj.list_orders(sorted(by_id)):
                order = by_id.get(cj_ids(row)[0] or "")
                if order is not None:
                    answers[order.id] = row
        # Not in the list's answer (or no CJ id yet): one detail read each, by CJ id or our orderNumber.
        for order in [o for o in by_id.values() if o.id not in answers] + without_id:
            answers[order.id] = runtime.cj.get_order_detail(order.cj_order_id or order.cj_order_number)
    except (CjApiError, CjTransportError) as exc:
        _apply(session, marked, answers, parts, part_answers)  # what was read before the failure is not lost
        retry_if_transient(exc)
        raise RetryLater(f"{exc}; the marked orders are read again") from None
    applied, busy = _apply(session, marked, answers, parts, part_answers)
    if busy:
        # Orders another job holds stay marked and are read again in a moment (not in a tight loop).
        enqueue(session, kind=READ_JOB, payload={}, dedupe_key=READ_JOB,
                run_at=utcnow() + timedelta(seconds=BUSY_RETRY_SECONDS))
    elif session.scalar(select(Order.id).where(Order.cj_sync_requested_at.is_not(None)).limit(1)) is not None:
        enqueue(session, kind=READ_JOB, payload={}, dedupe_key=READ_JOB)  # more were marked meanwhile
    return f"read {len(answers)} order(s) from CJ, applied {applied}" + (f", {busy} busy" if busy else "")


def _apply(session: Session, marked: list[Order], answers: dict[int, dict | None], parts=(),
           part_answers: dict[int, dict | None] | None = None) -> tuple[int, int]:
    applied = busy = 0
    engine = session.get_bind()
    part_answers = part_answers or {}
    for order in marked:
        if order.id not in answers:
            continue
        with order_lock(engine, order.id) as mine:
            if not mine:
                busy += 1  # another job holds the order: it stays marked
                continue
            session.refresh(order)
            # The parts first: a split original may read as cancelled, which its parts explain.
            for part in [p for p in parts if p.order_id == order.id and p.id in part_answers]:
                session.refresh(part)
                cj_order_parts.apply_part_read(session, order=order, part=part, data=part_answers[part.id])
            data = answers[order.id]
            if data is None:
                order.cj_sync_requested_at = None
                order.last_cj_update_at = utcnow()
                note(session, order, "cj_lookup_empty",
                     f"CJ's API has no order {order.cj_order_id or order.cj_order_number}")
            else:
                apply_cj_read(session, order=order, data=data)
                applied += 1
            session.commit()
    return applied, busy
