"""The merchant's pricing rule: a store price that follows CJ's price, only where the merchant turned it on.

price = CJ's sell price (USD) × multiplier, in the rule's currency (the store's, through its USD rate), plus a
fixed amount, then raised to the next price with the given ending (".99": 12.40 → 12.99, 13.00 → 13.99).
Without a USD rate for that currency no price is decided. The price goes to the store through the same path
as its stock (service/pipeline/store_stock_writes.py); self-stocked mappings are never touched.
"""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.pipeline.usd_amounts import CENT, usd_rate
from service.storage.models import CjVariantPrice, SkuMapping, Store

ENDINGS = ("", ".00", ".49", ".95", ".99")


def rule_price(rule: dict, *, cj_price_usd: Decimal, usd_per_unit: Decimal) -> Decimal:
    price = cj_price_usd * Decimal(str(rule["multiplier"])) / usd_per_unit + Decimal(str(rule.get("add") or 0))
    ending = rule.get("ending") or ""
    if not ending:
        return price.quantize(CENT, rounding=ROUND_HALF_UP)
    cents = Decimal(ending)
    whole = price.to_integral_value(rounding=ROUND_CEILING) - 1 + cents
    return whole if whole >= price.quantize(CENT, rounding=ROUND_HALF_UP) else whole + 1


def decide_prices(session: Session, *, vid: str | None = None, store_id: int | None = None) -> set[int]:
    """Set each rule-priced mapping's wanted price from CJ's latest price; the stores with a price to write."""
    stmt = select(SkuMapping).join(Store, Store.id == SkuMapping.store_id).where(
        Store.pricing_rule.is_not(None), SkuMapping.self_stocked.is_(False))
    if vid is not None:
        stmt = stmt.where(SkuMapping.cj_vid == vid)
    if store_id is not None:
        stmt = stmt.where(SkuMapping.store_id == store_id)
    stores: set[int] = set()
    for mapping in session.scalars(stmt):
        store = session.get(Store, mapping.store_id)
        if not store.pricing_rule:
            continue
        latest = session.scalar(select(CjVariantPrice.price).where(CjVariantPrice.vid == mapping.cj_vid)
                                .order_by(CjVariantPrice.seen_at.desc(), CjVariantPrice.id.desc()).limit(1))
        rate = usd_rate(session, store.pricing_rule.get("currency"))
        if latest is None or not rate:
            continue  # CJ's price not read yet, or no USD rate for the rule's currency
        price = rule_price(store.pricing_rule, cj_price_usd=latest, usd_per_unit=rate)
        if price != mapping.want_price or price != mapping.store_price:
            mapping.want_price = price
            if price != mapping.store_price:
                mapping.want_why = mapping.want_why or "price"
                stores.add(store.id)
    return stores
