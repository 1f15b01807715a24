"""Stock sync, the store's side: decided quantities (and rule prices) written through each store's adapter.

A mapping waits for a write while `want_why` is set (a new decision from CJ's stock, a delisting, a resync).
The adapter reads the store's figure before writing and never writes blindly (Shopify: compare-and-swap).
STOCK_SYNC=dry_run (or CJ_DRY_RUN) records the writes it would make, as calls with outcome dry_run, and
sends nothing. A platform without a stock write is skipped with one log line and a note on its mappings.
"""
from __future__ import annotations

import logging

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from adapters import get_adapter
from adapters.base import NotSupported, StockTarget
from service.jobs.outcomes import NeedsHuman
from service.jobs.queue import enqueue
from service.pipeline.call_log import record_call
from service.pipeline.store_context import store_context
from service.runtime import Runtime
from service.storage.models import SkuMapping, Store
from service.timeutil import iso, utcnow

log = logging.getLogger("cj_bridge.pipeline")

WRITE_JOB = "write_store_stock"
WRITE_BATCH = 200  # mappings per run; the adapter batches its own calls


def enqueue_store_writes(session: Session, *, store_ids) -> None:
    for store_id in sorted(store_ids):
        enqueue(session, kind=WRITE_JOB, payload={"store_id": store_id}, dedupe_key=f"{WRITE_JOB}:{store_id}")


def write_store_stock(session: Session, *, store_id: int, runtime: Runtime) -> str:
    store = session.get(Store, store_id)
    pending = session.scalars(select(SkuMapping).where(
        SkuMapping.store_id == store_id, SkuMapping.want_why.is_not(None), SkuMapping.self_stocked.is_(False),
        _due(utcnow())).order_by(SkuMapping.id).limit(WRITE_BATCH)).all()
    nothing = [m for m in pending if _quantity_to_write(m) is None and _price_to_write(m) is None]
    for mapping in nothing:
        mapping.want_why = None
    pending = [m for m in pending if m not in nothing]
    if not pending:
        _again_if_pending(session, store_id)  # a deferred write keeps its run
        return "nothing to write"
    if store is None or not store.active or runtime.settings.stock_sync == "off":
        _settle(pending, "the store is not active" if store is None or not store.active else "STOCK_SYNC is off")
        _again_if_pending(session, store_id)
        return "not written: " + pending[0].stock_write_error
    adapter = get_adapter(store.platform)
    targets = [StockTarget(mapping_id=m.id, store_variant_id=m.store_variant_id, store_sku=m.store_sku,
                           quantity=_quantity_to_write(m), ref=dict(m.store_stock_ref or {}),
                           price=_price_to_write(m), currency=(store.pricing_rule or {}).get("currency"))
               for m in pending]
    wanted = {m.id: _decision(m) for m in pending}
    targets_by_id = {t.mapping_id: t for t in targets}
    if not getattr(adapter, "can_set_stock", False):
        log.info("stock_sync_unsupported", extra={"fields": {"store_id": store_id, "platform": store.platform,
                                                             "mappings": len(pending)}})
        _settle(pending, f"{store.platform} stock is not written by this service: keep its quantities in "
                         f"{store.platform} yourself")
        _again_if_pending(session, store_id)
        return f"{store.platform}: no stock write; {len(pending)} mapping(s) skipped"
    if runtime.settings.stock_sync == "dry_run" or runtime.settings.cj_dry_run:
        record_call(session, order_id=None, service=store.platform, operation="setStock", outcome="dry_run",
                    request={"store_id": store_id, "location_id": store.stock_location_id,
                             "items": [{"mapping_id": t.mapping_id, "store_variant_id": t.store_variant_id,
                                        "store_sku": t.store_sku, "quantity": t.quantity,
                                        "price": str(t.price) if t.price is not None else None,
                                        "why": wanted[t.mapping_id][1]} for t in targets]})
        for mapping in pending:
            mapping.want_why = None
            mapping.stock_write_error = None
            mapping.store_quantity_why = "dry_run"  # recorded, not written: written once stock sync is on
        log.info("stock_write_dry_run", extra={"fields": {"store_id": store_id, "items": len(targets)}})
        _again_if_pending(session, store_id)
        return f"dry_run: would write {len(targets)} quantity(ies)"
    context = store_context(store, runtime)
    location = store.stock_location_id
    session.commit()  # no transaction stays open across the store's calls
    try:
        results = adapter.set_stock(http=runtime.http, store=context, targets=targets, location_id=location)
    except (NeedsHuman, NotSupported) as exc:
        detail = str(exc)
        for mapping in pending:
            session.refresh(mapping)
        # Only the decisions this run tried: one made meanwhile stays pending.
        _settle([m for m in pending if _decision(m) == wanted[m.id]], detail)
        log.info("stock_write_refused", extra={"fields": {"store_id": store_id, "platform": store.platform,
                                                          "reason": getattr(exc, "reason", "not_supported")}})
        _again_if_pending(session, store_id)
        return f"refused: {detail}"
    now = utcnow()
    counts: dict[str, int] = {}
    for result in results:
        mapping = session.get(SkuMapping, result.mapping_id)
        if mapping is None:
            continue  # deleted meanwhile
        session.refresh(mapping)
        sent = targets_by_id[result.mapping_id]
        if (mapping.store_variant_id, mapping.store_sku) != (sent.store_variant_id, sent.store_sku):
            continue  # re-pointed to another store variant meanwhile: this result is about the old one
        quantity, why, price = wanted[result.mapping_id]
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        if result.ref:
            mapping.store_stock_ref = result.ref
        if result.outcome == "deferred":
            # The decision stays pending (a newer one may replace it meanwhile) and is written at retry_at.
            mapping.stock_write_after = result.retry_at
            log.info("stock_write_deferred", extra={"fields": {"store_id": store_id, "mapping_id": mapping.id,
                                                               "until": iso(result.retry_at)}})
            continue
        mapping.stock_write_after = None
        if quantity is not None and result.outcome in ("written", "unchanged", "store_changed"):
            mapping.store_quantity = result.store_quantity
            mapping.store_quantity_at = now
            mapping.store_quantity_why = why if result.outcome != "store_changed" else "store_changed"
            mapping.stock_write_error = result.detail if result.outcome == "store_changed" else None
        elif result.outcome == "skipped":
            mapping.stock_write_error = result.detail
            mapping.store_quantity_why = "skipped"  # not decided again until a fix (a resync, a new mapping)
        elif quantity is None:
            mapping.stock_write_error = None
        if result.price_error:
            mapping.stock_write_error = "; ".join(e for e in (mapping.stock_write_error, result.price_error) if e)
        if price is not None and result.store_price == price:
            mapping.store_price, mapping.store_price_at = price, now
        if _decision(mapping) == (quantity, why, price):
            # Cleared only if still this decision (a read job may have made a newer one since the refresh).
            session.execute(update(SkuMapping).where(
                SkuMapping.id == mapping.id, SkuMapping.want_why == why,
                SkuMapping.want_quantity.is_(None) if mapping.want_quantity is None
                else SkuMapping.want_quantity == mapping.want_quantity).values(want_why=None)
                .execution_options(synchronize_session="fetch"))
        log.info("stock_write", extra={"fields": {"store_id": store_id, "mapping_id": mapping.id,
                                                  "outcome": result.outcome, "quantity": quantity, "why": why,
                                                  "store_quantity": result.store_quantity,
                                                  "price": str(price) if price is not None else None}})
    _again_if_pending(session, store_id)
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))


def _again_if_pending(session: Session, store_id: int) -> None:
    """More than one run's batch waits: another run (a batch per run keeps each job short); writes the store
    asked to wait for: a run when the first may go."""
    session.flush()
    waiting = (SkuMapping.store_id == store_id, SkuMapping.want_why.is_not(None), SkuMapping.self_stocked.is_(False))
    if session.scalar(select(SkuMapping.id).where(*waiting, _due(utcnow())).limit(1)):
        enqueue_store_writes(session, store_ids=[store_id])
        return
    later = session.scalar(select(func.min(SkuMapping.stock_write_after)).where(*waiting))
    if later is not None:
        # A run of its own: the store's usual run stays free for new decisions (a 0 goes at once), and its
        # retry waits (a store's 429) are never pulled forward by this one.
        enqueue(session, kind=WRITE_JOB, payload={"store_id": store_id},
                dedupe_key=f"{WRITE_JOB}:{store_id}:deferred", run_at=later)


def _due(now):
    """A decision the store asked to wait for is due at its time; a 0 (sold out, delisted) never waits."""
    return or_(SkuMapping.stock_write_after.is_(None), SkuMapping.stock_write_after <= now,
               and_(SkuMapping.want_quantity == 0, SkuMapping.want_why != "price"))


def _decision(mapping: SkuMapping) -> tuple:
    return _quantity_to_write(mapping), mapping.want_why, mapping.want_price


def _quantity_to_write(mapping: SkuMapping):
    """The decided quantity, unless only a price is waiting: the stock then stays as the store has it (a sale
    since our last write is not undone by a price change)."""
    return None if mapping.want_why == "price" else mapping.want_quantity


def _price_to_write(mapping: SkuMapping):
    """The pricing rule's price when the store does not show it yet; None: the price is left alone."""
    if mapping.want_price is None or mapping.want_price == mapping.store_price:
        return None
    return mapping.want_price


def _settle(mappings: list[SkuMapping], why_not: str) -> None:
    for mapping in mappings:
        mapping.want_why = None
        mapping.stock_write_error = why_not
        if mapping.store_quantity_why != "store_changed":
            mapping.store_quantity_why = "skipped"  # not decided again on every read; a resync tries again
