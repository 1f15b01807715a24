"""CJ product subscriptions: CJ sends PRODUCT, VARIANT and STOCK messages only for products subscribed to.

Hourly, the products of the mapped variants (their pid, learned from CJ's variant API by the stock read) are
set against what was subscribed: the ones whose last mapping went are unsubscribed first (room under the
cap), then the missing ones subscribed, at most 100 product ids a call (10 points a call). CJ caps
subscriptions by account level (1,000 to 10,000 products); a refused chunk is kept and shown, asked again a
day later behind the never-tried ones, and the stock poll still covers its products.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cj.errors import AUTH, RATE_LIMITED, RETRYABLE, CjApiError, CjTransportError, retry_if_transient
from service.jobs.outcomes import RetryLater
from service.runtime import Runtime
from service.storage.models import CjProductSubscription, SkuMapping
from service.timeutil import utcnow

log = logging.getLogger("cj_bridge.pipeline")
PER_CALL = 100
REFUSED_RETRY = timedelta(days=1)


def sync_product_subscriptions(session: Session, *, runtime: Runtime) -> str:
    """Periodic: subscribe the mapped products not subscribed yet, unsubscribe the ones no mapping needs."""
    if runtime.settings.stock_sync == "off" or runtime.settings.cj_dry_run:
        return "stock sync off" if runtime.settings.stock_sync == "off" else "dry_run"
    wanted = set(session.scalars(select(SkuMapping.cj_pid).where(SkuMapping.cj_pid.is_not(None),
                                                                 SkuMapping.self_stocked.is_(False)).distinct()))
    rows = {row.pid: row for row in session.scalars(select(CjProductSubscription))}
    now = utcnow()
    # Never-tried products first; a refused one is asked again once a day, never ahead of the others.
    fresh = sorted(pid for pid in wanted if pid not in rows)
    retry = sorted(pid for pid in wanted if pid in rows and rows[pid].subscribed_at is None
                   and (rows[pid].updated_at is None or now - rows[pid].updated_at >= REFUSED_RETRY))
    to_add = fresh + retry
    to_drop = sorted(pid for pid, row in rows.items() if pid not in wanted and row.subscribed_at is not None)
    for pid, row in rows.items():
        if pid not in wanted and row.subscribed_at is None:
            session.delete(row)  # refused, and no longer wanted: nothing to undo at CJ
    session.commit()  # no transaction stays open across CJ's calls
    added = dropped = 0
    refused = None
    try:
        # Unsubscribing first frees room under the level's cap for the products subscribed next.
        for start in range(0, len(to_drop), PER_CALL):
            chunk = to_drop[start:start + PER_CALL]
            try:
                runtime.cj.unsubscribe_products(chunk)
            except CjApiError as exc:
                if exc.category in (RATE_LIMITED, RETRYABLE, AUTH):
                    raise
                log.info("cj_unsubscribe_refused", extra={"fields": {"products": len(chunk), "code": exc.code}})
            for pid in chunk:  # a product CJ will not unsubscribe only costs its messages, which match nothing
                row = session.get(CjProductSubscription, pid)
                if row is not None:
                    session.delete(row)
            session.commit()
            dropped += len(chunk)
        for start in range(0, len(to_add), PER_CALL):
            chunk = to_add[start:start + PER_CALL]
            try:
                runtime.cj.subscribe_products(chunk)
            except CjApiError as exc:
                if exc.category in (RATE_LIMITED, RETRYABLE, AUTH):
                    raise
                refused = (f"CJ refused the subscription of {len(chunk)} product(s) ({exc}; at the account level's "
                           "cap, or a product CJ no longer lists); asked again in a day, the stock poll covers them")
                _mark(session, chunk, refused=refused)
                continue  # the next chunk may be accepted (a bad product id refuses only its own chunk)
            _mark(session, chunk, refused=None)
            added += len(chunk)
    except (CjApiError, CjTransportError) as exc:
        retry_if_transient(exc)
        raise RetryLater(f"{exc}; subscriptions are set again later") from None
    log.info("cj_product_subscriptions", extra={"fields": {"subscribed": added, "unsubscribed": dropped,
                                                           "refused": refused is not None}})
    return f"{added} product(s) subscribed, {dropped} unsubscribed" + (f"; {refused}" if refused else "")


def _mark(session: Session, pids: list[str], *, refused: str | None) -> None:
    now = utcnow()
    for pid in pids:
        row = session.get(CjProductSubscription, pid) or CjProductSubscription(pid=pid)
        row.subscribed_at = None if refused else now
        row.refused = refused
        row.updated_at = now  # also when nothing else changed: a refusal is asked again a day after this one
        session.add(row)
    session.commit()


def subscription_status(session: Session) -> dict:
    rows = list(session.scalars(select(CjProductSubscription)))
    refused = [r for r in rows if r.refused]
    return {"products_subscribed": sum(1 for r in rows if r.subscribed_at), "products_refused": len(refused),
            "refusal": refused[0].refused if refused else None}
