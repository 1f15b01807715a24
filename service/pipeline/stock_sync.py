"""Stock sync, CJ's side: which mapped variants to read, CJ's stock read, and what each store should show.

CJ's STOCK, VARIANT and PRODUCT messages are hints, like its order messages (service/pipeline/cj_hints.py):
they mark the mapped variants they name for a read, and one job reads CJ's stock API for them
(`/product/stock/queryByVid`, 10 points a variant). A poll marks the variants read longest ago, within
STOCK_POLL_POINTS_SHARE of the day's points, spread over the day, so a lost message is corrected in a bounded
time. What a store should show is CJ's stock in the warehouses we ship from (CJ_FROM_COUNTRY and the
CJ_WAREHOUSES origins) less the buffer, never under 0; a variant CJ no longer sells (1602000-1602003) shows 0.
Self-stocked mappings are never marked, read for, or written.
"""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from service.cj.account import locked_account, next_daily_reset
from service.cj.errors import CjApiError, CjTransportError, retry_if_transient
from service.jobs.outcomes import RetryLater
from service.jobs.queue import enqueue
from service.pipeline import variant_facts
from service.pipeline.cj_hints import queued_cj_message
from service.pipeline.store_stock_writes import enqueue_store_writes
from service.runtime import Runtime
from service.storage.models import SkuMapping, Store, VariantStock
from service.timeutil import iso, utcnow

log = logging.getLogger("cj_bridge.pipeline")

READ_JOB = "read_cj_stock"
READ_BATCH = 50  # variants per run of the read job
POINTS_PER_READ = 10  # /product/stock/queryByVid (cj-api.md §2)
POLL_MAX_PER_RUN = 200
PRICE_READ_EVERY = timedelta(days=7)  # CJ's price of a polled variant is read again once it is this old
NEVER = datetime(1970, 1, 1)
RESERVE_SHARE = 0.25  # of the day's CJ points, never spent on stock reads: the orders' freight quotes need them
# CJ no longer sells it: variant not found, product not found, product delisted, variant delisted.
# Why a variant is marked for a read, strongest first (a weaker reason never replaces a stronger one).
READ_REASONS = ("resync", "catalog", "order_refused", "webhook", "poll")
# CJ's answer to a malformed parameter: about the one variant asked for (its vid), unless every read gets it.
VARIANT_REFUSED_CODES = {1600100}
DELISTED_CODES = {1602000: "variant not found", 1602001: "product not found", 1602002: "product delisted",
                  1602003: "variant delisted"}


def request_stock_reads(session: Session, *, why: str, vids: set[str] | None = None, pids: set[str] | None = None,
                        store_id: int | None = None) -> int:
    """Mark the mapped variants named (by CJ vid or pid, or a whole store's) for a read of CJ's stock."""
    stmt = update(SkuMapping).where(SkuMapping.self_stocked.is_(False))
    if vids is not None or pids is not None:
        named = []
        if vids:
            named.append(SkuMapping.cj_vid.in_(sorted(vids)))
        if pids:
            named.append(SkuMapping.cj_pid.in_(sorted(pids)))
        if not named:
            return 0
        stmt = stmt.where(or_(*named))
    if store_id is not None:
        stmt = stmt.where(SkuMapping.store_id == store_id)
    # A mark already asking for more (a resync writes even an unchanged figure; a catalog message also reads
    # the variant) keeps its reason; its time too, so a burst of messages never pushes a variant back in line.
    stronger = [w for w in READ_REASONS[:READ_REASONS.index(why)]] if why in READ_REASONS else []
    keep = SkuMapping.stock_read_why.in_(stronger) if stronger else None
    values = {"stock_read_requested_at": func.coalesce(SkuMapping.stock_read_requested_at, utcnow()),
              "stock_hint_at": utcnow(),
              "stock_read_why": case((keep, SkuMapping.stock_read_why), else_=why) if keep is not None else why}
    marked = session.execute(stmt.values(**values).execution_options(synchronize_session=False)).rowcount or 0
    if marked:
        enqueue(session, kind=READ_JOB, payload={}, dedupe_key=READ_JOB)
    return marked


def apply_cj_catalog_event(session: Session, *, event_id: int) -> str:
    """A stored STOCK, VARIANT or PRODUCT message: mark the mapped variants it names for a read of CJ's stock."""
    queued = queued_cj_message(session, event_id)
    if queued is None:
        return "already_processed"
    event, message = queued
    params = message.get("params") if isinstance(message.get("params"), dict) else {}
    kind = str(message.get("type") or "").upper()
    vids, pids = set(), set()
    if kind == "STOCK":  # {"<vid>": [{"vid", "areaId", "areaEn", "countryCode", "storageNum"}, …]}
        for key, warehouses in params.items():
            if isinstance(warehouses, list):
                vids.add(str(key))
                vids.update(str(w["vid"]) for w in warehouses if isinstance(w, dict) and w.get("vid"))
    elif kind == "VARIANT" and params.get("vid"):
        vids.add(str(params["vid"]))
    elif kind == "PRODUCT" and params.get("pid"):
        pids.add(str(params["pid"]))
    # A VARIANT or PRODUCT message may be about the price or a delisting: the variant itself is read too.
    why = "webhook" if kind == "STOCK" else "catalog"
    marked = request_stock_reads(session, why=why, vids=vids, pids=pids) if vids or pids else 0
    event.status = "processed"
    event.note = f"stock read requested for {marked} mapping(s)" if marked else "no_mapped_variant"
    event.processed_at = utcnow()
    log.info("cj_catalog_event_processed", extra={"fields": {"event_id": event.id, "topic": event.topic,
                                                             "mappings": marked}})
    return event.note


def note_refused_variants(session: Session, *, code: int, vids: set[str]) -> None:
    """createOrderV2 answered 1602000-1602003: CJ's API names no variant, so one order variant is known to be the
    one CJ no longer sells; with several, each is read again (a delisted one answers so)."""
    if len(vids) == 1:
        mark_unavailable(session, vid=next(iter(vids)), why=f"{DELISTED_CODES[code]} (CJ {code}, on an order)")
    else:
        request_stock_reads(session, why="order_refused", vids=vids)


def mark_unavailable(session: Session, *, vid: str, why: str) -> None:
    now = utcnow()
    stores = set()
    for mapping in session.scalars(select(SkuMapping).where(SkuMapping.cj_vid == vid,
                                                            SkuMapping.self_stocked.is_(False))):
        if not mapping.supplier_unavailable:
            mapping.supplier_unavailable = f"{why} since {iso(now)}"
        mapping.cj_stock, mapping.cj_stock_at = 0, now
        if mapping.want_quantity != 0:
            mapping.want_quantity, mapping.want_why = 0, "delisting"
            stores.add(mapping.store_id)
    enqueue_store_writes(session, store_ids=stores)


def read_marked_stock(session: Session, *, runtime: Runtime) -> str:
    """Read CJ's stock of the marked variants (oldest mark first) and decide each mapping's store quantity."""
    settings = runtime.settings
    marked = session.execute(
        select(SkuMapping.cj_vid, func.min(SkuMapping.stock_read_requested_at))
        .where(SkuMapping.stock_read_requested_at.is_not(None)).group_by(SkuMapping.cj_vid)
        .order_by(func.min(SkuMapping.stock_read_requested_at)).limit(READ_BATCH)).all()
    vids = [vid for vid, _at in marked]
    # The variant itself (its product id, its price) is read when a message was about it, or to learn the pid
    # that product subscriptions need: 10 points more, once per variant.
    facts_wanted = set(session.scalars(select(SkuMapping.cj_vid).where(
        SkuMapping.cj_vid.in_(vids), (SkuMapping.stock_read_why == "catalog") | SkuMapping.cj_pid.is_(None))))
    # CJ's price is also read on a poll read once it is a week old: a price change whose message was lost,
    # or of a product past the subscription cap, still reaches the margins and the pricing rule.
    facts_wanted |= set(session.scalars(select(SkuMapping.cj_vid).where(
        SkuMapping.cj_vid.in_(vids), SkuMapping.stock_read_why == "poll")
        .group_by(SkuMapping.cj_vid).having(price_read_due(utcnow(), price_read_every(session, runtime)))))
    if not vids:
        return "nothing_marked"
    if settings.stock_sync == "off" or settings.cj_dry_run:
        _clear_marks(session, vids)
        _again_if_marked(session)
        return "stock sync off" if settings.stock_sync == "off" else "dry_run: CJ's stock is not read (CJ_DRY_RUN)"
    # CJ's points are shared with the orders' freight quotes: reads stop while less than a reserve is left,
    # and a run reads no more than the points above it (a resync of 10,000 variants needs 100,000).
    room = points_above_reserve(session, runtime=runtime)
    affordable, cost = [], 0
    for vid in vids:
        cost += POINTS_PER_READ * (2 if vid in facts_wanted else 1)
        if cost > room:
            break
        affordable.append(vid)
    if not affordable:
        reset = next_daily_reset(utcnow())
        enqueue(session, kind=READ_JOB, payload={}, dedupe_key=READ_JOB, run_at=reset)
        log.info("stock_reads_wait_for_points", extra={"fields": {"marked": len(vids), "until": iso(reset)}})
        return f"CJ points kept for orders ({RESERVE_SHARE:.0%} of the day's): {len(vids)} variant(s) wait " \
               f"until {iso(reset)}"
    vids = affordable
    started = utcnow()  # a hint newer than this came during the read: its mark stays, for another read
    session.commit()  # no transaction stays open across CJ's calls
    readings: dict[str, dict] = {}
    facts: dict[str, dict] = {}
    refused_code: dict[str, int] = {}
    failure = None
    for vid in vids:
        try:
            if vid in facts_wanted:
                facts[vid] = runtime.cj.query_variant(vid)
            readings[vid] = {"warehouses": runtime.cj.query_stock(vid)}
        except CjApiError as exc:
            if exc.code in DELISTED_CODES:
                readings[vid] = {"delisted": f"{DELISTED_CODES[exc.code]} (CJ {exc.code})"}
                continue
            if exc.code in VARIANT_REFUSED_CODES and refused_code.get("last") != exc.code:
                # About this variant only (a malformed vid): noted on its mappings, the others read on. The
                # same refusal twice in a row is about the account or CJ: the marks stay, the job waits.
                refused_code["last"] = exc.code
                readings[vid] = {"refused": f"CJ refused the stock read ({exc}). Resolution: check the mapping's "
                                            "cj_vid (PUT /admin/sku-mappings)"}
                continue
            if exc.code in VARIANT_REFUSED_CODES:
                readings = {v: r for v, r in readings.items() if "refused" not in r}
            failure = exc
            break
        except CjTransportError as exc:
            failure = exc
            break
    for vid, variant in facts.items():
        variant_facts.apply_variant_facts(session, vid=vid, data=variant, runtime=runtime)
    if facts:
        session.execute(update(SkuMapping).where(SkuMapping.cj_vid.in_(list(facts))).values(cj_facts_at=started)
                        .execution_options(synchronize_session="fetch"))
    stores = _apply_readings(session, readings, runtime=runtime, started=started)
    enqueue_store_writes(session, store_ids=stores)
    if failure is not None:
        session.commit()  # what was read before the failure is kept
        retry_if_transient(failure, note="; the rest of the marked variants are read later")
        raise RetryLater(f"{failure}; the rest of the marked variants are read later") from None
    _again_if_marked(session)
    return f"read CJ's stock of {len(readings)} variant(s); {len(stores)} store(s) to write"


def _again_if_marked(session: Session) -> None:
    if session.scalar(select(SkuMapping.id).where(SkuMapping.stock_read_requested_at.is_not(None)).limit(1)):
        enqueue(session, kind=READ_JOB, payload={}, dedupe_key=READ_JOB)


def price_read_every(session: Session, runtime: Runtime) -> timedelta:
    """How old CJ's price of a polled variant may get: a week, or seven of its poll turns when the catalogue is
    too large to poll weekly. Price reads then take at most an eighth of the poll's points: the stock, which
    decides what a store can sell, keeps the rest."""
    settings = runtime.settings
    reads_a_day = settings.stock_poll_points_share * settings.cj_daily_points / POINTS_PER_READ
    variants = session.scalar(select(func.count(func.distinct(SkuMapping.cj_vid)))
                              .where(SkuMapping.self_stocked.is_(False))) or 0
    turn_days = variants / reads_a_day if reads_a_day > 0 else 0
    return max(PRICE_READ_EVERY, timedelta(days=7 * turn_days))


def price_read_due(now: datetime, every: timedelta):
    """SQL (over one variant's mappings): CJ's variant was never read for one of them, or not for `every`."""
    return func.min(func.coalesce(SkuMapping.cj_facts_at, NEVER)) <= now - every


def points_above_reserve(session: Session, *, runtime: Runtime) -> int:
    """Points left today beyond the reserve kept for the orders' freight quotes."""
    from service.pipeline.cj_budget import budget_status
    status = budget_status(session, runtime=runtime)
    remaining = status.get("points_remaining", runtime.settings.cj_daily_points)
    return remaining - int(runtime.settings.cj_daily_points * RESERVE_SHARE)


def warehouses_we_ship_from(runtime: Runtime) -> set[str]:
    return {runtime.settings.cj_from_country.upper(), *(o.upper() for o in runtime.settings.cj_warehouses)}


def available_units(warehouses: list[dict], origins: set[str]) -> tuple[int, dict[str, int]]:
    """(units CJ can ship from our origins, units per warehouse country) from a queryByVid answer."""
    by_country: dict[str, int] = {}
    for warehouse in warehouses:
        country = str(warehouse.get("countryCode") or "").upper()
        try:
            count = max(0, int(warehouse.get("totalInventoryNum") or 0))
        except (TypeError, ValueError):
            count = 0
        if country:
            by_country[country] = by_country.get(country, 0) + count
    return sum(n for c, n in by_country.items() if c in origins), by_country


def _apply_readings(session: Session, readings: dict[str, dict], *, runtime: Runtime,
                    started=None) -> set[int]:
    now = utcnow()
    origins = warehouses_we_ship_from(runtime)
    stores: set[int] = set()
    buffers = dict(session.execute(select(Store.id, Store.stock_buffer)).all())
    for vid, reading in readings.items():
        available = None
        if "warehouses" in reading:
            available, by_country = available_units(reading["warehouses"], origins)
            row = session.get(VariantStock, vid) or VariantStock(vid=vid)
            row.by_country, row.fetched_at = by_country, now  # the origin choice reads it too
            session.add(row)
        whys = {}
        for mapping in session.scalars(select(SkuMapping).where(SkuMapping.cj_vid == vid)):
            why = whys[mapping.id] = mapping.stock_read_why or "poll"
            if mapping.self_stocked:
                continue
            if "refused" in reading:
                mapping.stock_write_error = reading["refused"]
                mapping.cj_stock_at = now  # its turn in the poll is over: the others' comes
                continue
            if available is None:
                if not mapping.supplier_unavailable:
                    mapping.supplier_unavailable = f"{reading['delisted']} since {iso(now)}"
                    log.info("cj_variant_unavailable", extra={"fields": {"mapping_id": mapping.id, "vid": vid,
                                                                         "reason": reading["delisted"]}})
                want, why = 0, "delisting"
                mapping.cj_stock = 0
            else:
                mapping.supplier_unavailable = None
                mapping.cj_stock = available
                buffer = mapping.stock_buffer if mapping.stock_buffer is not None else buffers.get(mapping.store_id, 0)
                want = max(0, available - (buffer or 0))
            mapping.cj_stock_at = now
            # Written when the decision changes, on a resync, and while the store was never given it (a skip
            # whose cause was fixed, a switch from dry-run): never over a person's figure (store_changed).
            unwritten = mapping.store_quantity != want and mapping.store_quantity_why not in (
                "store_changed", "skipped") and not (
                mapping.store_quantity_why == "dry_run" and runtime.settings.stock_sync == "dry_run")
            if want != mapping.want_quantity or mapping.want_quantity is None or why == "resync" or unwritten:
                mapping.want_quantity, mapping.want_why = want, why
                flag_modified(mapping, "want_why")  # written even if unchanged: a writer may have cleared it
                stores.add(mapping.store_id)
        session.flush()
        # Marks cleared in SQL, only where no hint came during the read (a later one is read again).
        clear = update(SkuMapping).where(SkuMapping.cj_vid == vid)
        if started is not None:
            clear = clear.where(or_(SkuMapping.stock_hint_at.is_(None), SkuMapping.stock_hint_at <= started))
        session.execute(clear.values(stock_read_requested_at=None, stock_read_why=None)
                        .execution_options(synchronize_session="fetch"))
    return stores


def _clear_marks(session: Session, vids: list[str]) -> None:
    session.execute(update(SkuMapping).where(SkuMapping.cj_vid.in_(vids))
                    .values(stock_read_requested_at=None, stock_read_why=None)
                    .execution_options(synchronize_session=False))


def poll_cj_stock(session: Session, *, runtime: Runtime) -> str:
    """Periodic: mark the variants read longest ago, within the poll's share of today's points so far."""
    settings = runtime.settings
    if settings.stock_sync == "off" or settings.cj_dry_run:
        return "stock sync off" if settings.stock_sync == "off" else "dry_run"
    now = utcnow()
    row = locked_account(session)
    today = now.date().isoformat()
    if row.stock_poll_day != today:
        row.stock_poll_day, row.stock_poll_points = today, 0
    share = settings.stock_poll_points_share * settings.cj_daily_points
    # Spread over the day: by this run, at most the share of the day that has passed (one interval ahead).
    elapsed = (now - datetime.combine(now.date(), time.min)) + timedelta(minutes=settings.stock_poll_minutes)
    allowed = int(share * min(1.0, elapsed / timedelta(days=1)))
    points = max(0, allowed - (row.stock_poll_points or 0))
    if points < POINTS_PER_READ:
        return f"points share for the poll used so far today ({row.stock_poll_points} of {int(share)})"
    oldest = session.execute(
        select(SkuMapping.cj_vid, func.min(func.coalesce(SkuMapping.cj_stock_at, datetime(1970, 1, 1))),
               func.max(case((SkuMapping.cj_pid.is_(None), 1), else_=0)),
               case((price_read_due(now, price_read_every(session, runtime)), 1), else_=0))
        .where(SkuMapping.self_stocked.is_(False), SkuMapping.stock_read_requested_at.is_(None))
        .group_by(SkuMapping.cj_vid)
        .order_by(func.min(func.coalesce(SkuMapping.cj_stock_at, datetime(1970, 1, 1))), SkuMapping.cj_vid)
        .limit(POLL_MAX_PER_RUN)).all()
    vids, spent = set(), 0
    for vid, _at, needs_pid, price_due in oldest:
        # The variant itself is read too when its product is unknown, or its weekly price read is due.
        cost = POINTS_PER_READ * (2 if needs_pid or price_due else 1)
        if spent + cost > points:
            break
        vids.add(vid)
        spent += cost
    if not vids:
        return "no mapped variant to poll" if not oldest else \
            f"points share for the poll used so far today ({row.stock_poll_points} of {int(share)})"
    row.stock_poll_points = (row.stock_poll_points or 0) + spent
    request_stock_reads(session, why="poll", vids=vids)
    return f"{len(vids)} variant(s) marked for a stock read ({row.stock_poll_points} of {int(share)} points today)"
