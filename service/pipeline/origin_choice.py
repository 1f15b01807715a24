"""Which CJ warehouse an order ships from: a local one that holds every line, else CJ_FROM_COUNTRY.

CJ's US and EU warehouses deliver in 3 to 6 days where China takes about 15. For a destination that a local
warehouse serves (CJ_WAREHOUSES), CJ's stock of each of the order's variants is read (10 points a variant,
kept STOCK_CACHE_MINUTES) and the first such warehouse that holds every line wins. Anything else (no local
warehouse, not enough stock, a failed stock read, dry-run without a stored reading) ships from
CJ_FROM_COUNTRY: the choice never holds an order up.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from service.cj.errors import CjApiError, CjTransportError
from service.runtime import Runtime
from service.storage.models import VariantStock
from service.timeutil import utcnow

log = logging.getLogger("cj_bridge.pipeline")


@dataclass(frozen=True)
class Origin:
    country: str
    why: str


def choose_origin(session: Session, *, runtime: Runtime, destination: str, products: list[dict]) -> Origin:
    default = runtime.settings.cj_from_country
    candidates = [origin for origin, served in runtime.settings.cj_warehouses.items()
                  if destination.upper() in served and origin != default]
    if not candidates:
        return Origin(default, f"no local CJ warehouse serves {destination}")
    needed: dict[str, int] = {}
    for product in products:
        needed[product["vid"]] = needed.get(product["vid"], 0) + int(product["quantity"])
    try:
        stock = {vid: _stock(session, runtime=runtime, vid=vid) for vid in needed}
    except (CjApiError, CjTransportError) as exc:
        log.info("stock_read_failed", extra={"fields": {"error": type(exc).__name__}})
        return Origin(default, f"CJ's stock could not be read ({exc}); shipped from {default}")
    for origin in candidates:
        if all(stock[vid] is not None and stock[vid].get(origin, 0) >= qty for vid, qty in needed.items()):
            held = ", ".join(f"{vid}: {stock[vid][origin]} for {qty}" for vid, qty in needed.items())
            return Origin(origin, f"every line is in stock at CJ's {origin} warehouse ({held})")
    if any(s is None for s in stock.values()):
        return Origin(default, f"no stored reading of CJ's stock in dry-run; shipped from {default}")
    return Origin(default, f"not every line is in stock at CJ's {', '.join(candidates)} warehouse(s); "
                           f"shipped from {default}")


def _stock(session: Session, *, runtime: Runtime, vid: str) -> dict[str, int] | None:
    """CJ's stock of a variant per warehouse country: stored if fresh, else read (None: none known, dry-run)."""
    row = session.get(VariantStock, vid)
    fresh = timedelta(minutes=runtime.settings.stock_cache_minutes)
    if row is not None and utcnow() - row.fetched_at <= fresh:
        return dict(row.by_country)
    if runtime.settings.cj_dry_run:
        return dict(row.by_country) if row is not None else None
    session.commit()  # no transaction stays open across the CJ call
    by_country: dict[str, int] = {}
    for warehouse in runtime.cj.query_stock(vid):
        country = str(warehouse.get("countryCode") or "").upper()
        try:
            count = int(warehouse.get("totalInventoryNum") or 0)
        except (TypeError, ValueError):
            count = 0
        if country:
            by_country[country] = by_country.get(country, 0) + max(0, count)
    row = session.get(VariantStock, vid) or VariantStock(vid=vid)
    row.by_country, row.fetched_at = by_country, utcnow()
    session.add(row)
    return by_country
