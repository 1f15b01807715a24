"""Freight quotes from a cache: a burst of orders for the same variants to the same country costs one quote.

freightCalculate costs 10 of CJ's daily points and a request slot. Its answer depends on the origin and
destination countries, the zip only where CJ prices by zone (FREIGHT_ZIP_COUNTRIES), and the variants and
quantities; within FREIGHT_CACHE_HOURS the same question is answered from the database. A quote is asked
again when CJ refuses the method it chose (1605001) or charges a different postage than it quoted.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.pipeline.shipping import price_of
from service.runtime import Runtime
from service.storage.models import FreightQuote
from service.timeutil import utcnow

log = logging.getLogger("cj_bridge.pipeline")


def quote_key(*, start: str, end: str, zone: str | None, products: list[dict]) -> str:
    parts = [start.upper(), end.upper(), zone or "", sorted((p["vid"], int(p["quantity"])) for p in products)]
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()


def zone_of(runtime: Runtime, end: str, zip_code: str | None) -> str | None:
    """The zip, for a destination where CJ prices by zone; None elsewhere (one quote serves the country)."""
    if end.upper() not in runtime.settings.freight_zip_countries:
        return None
    return (zip_code or "").strip().upper() or None


def cached_options(session: Session, *, runtime: Runtime, key: str) -> list[dict] | None:
    """The cached answer for this question while it is fresh, else None."""
    row = session.get(FreightQuote, key)
    if row is None or utcnow() - row.fetched_at > timedelta(hours=runtime.settings.freight_cache_hours):
        return None
    return list(row.options)


@dataclass(frozen=True)
class Quote:
    options: list[dict]
    key: str
    cached: bool  # answered from the database, not asked of CJ just now


def freight_options(session: Session, *, runtime: Runtime, start: str, end: str, zip_code: str | None,
                    products: list[dict]) -> Quote:
    """CJ's shipping options for this question, from the cache or from CJ (then cached).

    Commits the session before calling CJ (no transaction stays open across the call). CJ errors propagate.
    """
    zone = zone_of(runtime, end, zip_code)
    key = quote_key(start=start, end=end, zone=zone, products=products)
    cached = cached_options(session, runtime=runtime, key=key)
    if cached is not None:
        return Quote(cached, key, True)
    session.commit()
    options = runtime.cj.freight_calculate(start_country=start, end_country=end, zip_code=zip_code,
                                           products=products)
    values = {"key": key, "start_country": start.upper(), "end_country": end.upper(), "zone": zone,
              "products": [{"vid": p["vid"], "quantity": int(p["quantity"])} for p in products],
              "options": options, "fetched_at": utcnow()}
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(FreightQuote).values(values)
    session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={
        "options": stmt.excluded.options, "fetched_at": stmt.excluded.fetched_at}))
    return Quote(options, key, False)


def forget(session: Session, key: str, *, why: str) -> None:
    """The cached quote no longer holds (a method refused, a price moved): the next order asks CJ again."""
    if session.execute(delete(FreightQuote).where(FreightQuote.key == key)).rowcount:
        log.info("freight_quote_forgotten", extra={"fields": {"key": key[:12], "why": why}})


def quoted_price(options: list[dict], logistic_name: str) -> Decimal | None:
    for option in options:
        if str(option.get("logisticName") or "").strip().lower() == logistic_name.strip().lower():
            return price_of(option)
    return None
