"""CJ's facts about a mapped variant: its product id (for subscriptions) and its sell price, each change kept.

A price change is checked against what the store sells the variant for (the unit price of its latest store
order, in USD through the store currency's rate) less CJ's price and, when the freight cache holds a quote for
one unit of it, that quote's cheapest method. Under MARGIN_ALERT_PERCENT of the store's price the mapping is
flagged, which is an alert. The store's price changes only where the merchant set a pricing rule
(service/pipeline/pricing_rule.py).
"""
from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.pipeline import pricing_rule
from service.pipeline.shipping import price_of
from service.pipeline.store_stock_writes import enqueue_store_writes
from service.pipeline.usd_amounts import CENT, usd_rate
from service.runtime import Runtime
from service.storage.models import CjVariantPrice, FreightQuote, Order, SkuMapping
from service.timeutil import iso, utcnow
from service.money import to_cents

log = logging.getLogger("cj_bridge.pipeline")
RECENT_ORDERS = 200  # store orders looked through for the variant's selling price


def apply_variant_facts(session: Session, *, vid: str, data: dict, runtime: Runtime) -> None:
    """What CJ's variant API answered for vid (/product/variant/queryByVid)."""
    pid = data.get("pid")
    if pid not in (None, ""):
        session.execute(update(SkuMapping).where(SkuMapping.cj_vid == vid).values(cj_pid=str(pid))
                        .execution_options(synchronize_session="fetch"))
    price = to_cents(data.get("variantSellPrice"))
    if price is not None:
        record_price(session, vid=vid, price=price, runtime=runtime)


def record_price(session: Session, *, vid: str, price: Decimal, runtime: Runtime) -> None:
    last = session.scalar(select(CjVariantPrice).where(CjVariantPrice.vid == vid)
                          .order_by(CjVariantPrice.seen_at.desc(), CjVariantPrice.id.desc()).limit(1))
    if last is not None and last.price == price:
        return
    session.add(CjVariantPrice(vid=vid, price=price, seen_at=utcnow()))
    if last is not None:
        log.info("cj_price_changed", extra={"fields": {"vid": vid, "from": str(last.price), "to": str(price)}})
    session.flush()
    check_margins(session, vid=vid, price=price, runtime=runtime)
    enqueue_store_writes(session, store_ids=pricing_rule.decide_prices(session, vid=vid))


def check_margins(session: Session, *, vid: str, price: Decimal, runtime: Runtime) -> None:
    threshold = runtime.settings.margin_alert_percent
    shipping = unit_shipping_estimate(session, vid)
    for mapping in session.scalars(select(SkuMapping).where(SkuMapping.cj_vid == vid)):
        sold = store_price(session, mapping)
        rate = usd_rate(session, sold[1]) if sold else None
        if not sold or not rate:
            continue  # nothing to compare with: no order yet, or no rate for the store's currency
        revenue = (sold[0] * rate).quantize(CENT)
        if revenue <= 0:
            continue
        margin = revenue - price - (shipping or 0)
        percent = (margin * 100 / revenue).quantize(Decimal("0.1"))
        if percent < threshold:
            with_shipping = f" and {shipping} USD shipping (cached quote)" if shipping is not None else ""
            mapping.margin_warning = (
                f"CJ's price {price} USD{with_shipping} leaves {margin} USD ({percent} %) of the store's "
                f"{sold[0]} {sold[1]}, under MARGIN_ALERT_PERCENT ({threshold} %), since "
                f"{iso(utcnow().replace(microsecond=0))}")
            log.info("margin_low", extra={"fields": {"mapping_id": mapping.id, "vid": vid, "percent": str(percent)}})
        else:
            mapping.margin_warning = None


def store_price(session: Session, mapping: SkuMapping) -> tuple[Decimal, str] | None:
    """The unit price and currency of the variant in the store's latest order of it."""
    orders = session.scalars(select(Order).where(Order.store_id == mapping.store_id, Order.test.is_(False))
                             .order_by(Order.created_at.desc(), Order.id.desc()).limit(RECENT_ORDERS))
    for order in orders:
        for line in (order.canonical or {}).get("lines") or []:
            named = (mapping.store_variant_id and line.get("variant_id") == mapping.store_variant_id) or \
                (mapping.store_sku and line.get("sku") == mapping.store_sku)
            price = to_cents(line.get("unit_price")) if named else None
            if price is not None and order.currency:
                return price, order.currency
    return None


def unit_shipping_estimate(session: Session, vid: str) -> Decimal | None:
    """The cheapest method of the latest cached quote for one unit of vid alone, if there is one."""
    for quote in session.scalars(select(FreightQuote).order_by(FreightQuote.fetched_at.desc()).limit(500)):
        if [(p.get("vid"), int(p.get("quantity") or 0)) for p in quote.products or []] == [(vid, 1)]:
            prices = [p for p in (price_of(o) for o in quote.options or [] if isinstance(o, dict)) if p is not None]
            return min(prices).quantize(CENT) if prices else None
    return None
