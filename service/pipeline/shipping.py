"""Shipping method choice: destination rule → allowed CJ logistic names → cheapest within the cap."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage.models import ShippingRule

DEFAULT_RULE = "*"


@dataclass
class ShippingChoice:
    logistic_name: str
    cost: Decimal | None
    aging: str | None


def rule_for(session: Session, country_code: str) -> ShippingRule | None:
    """The country's rule, else the default ('*') rule: one query for both."""
    rules = {r.country_code: r for r in session.scalars(select(ShippingRule).where(
        ShippingRule.country_code.in_((country_code.upper(), DEFAULT_RULE))))}
    return rules.get(country_code.upper()) or rules.get(DEFAULT_RULE)


def cap_for(session: Session, order) -> Decimal | None:
    """The shipping cost cap of the rule that applies to the order's destination, if any."""
    country = ((order.canonical or {}).get("shipping_address") or {}).get("country_code")
    rule = rule_for(session, country) if country else None
    return rule.max_shipping_cost if rule is not None else None


def price_of(option: dict) -> Decimal | None:
    for key in ("totalPostageFee", "logisticPrice"):
        value = option.get(key)
        if value is not None:
            try:
                return Decimal(str(value))
            except InvalidOperation:
                continue
    return None


def allowed_names(rule: ShippingRule, origin: str, default_origin: str) -> list[str]:
    """The methods the rule allows from this origin: its own list for that origin, else the rule's list."""
    if origin != default_origin:
        by_origin = {k.upper(): v for k, v in (rule.logistic_names_by_origin or {}).items()}
        if by_origin.get(origin.upper()):
            return list(by_origin[origin.upper()])
    return list(rule.logistic_names)


def choose(rule: ShippingRule, options: list[dict], names: list[str] | None = None) -> ShippingChoice | None:
    """Cheapest option that the rule allows (names, or the rule's list) within its cap; None if there is none."""
    allowed = {name.strip().lower() for name in (names if names is not None else rule.logistic_names)}
    cap = rule.max_shipping_cost
    best = None
    for option in options:
        name = str(option.get("logisticName") or "")
        price = price_of(option)
        if name.strip().lower() not in allowed or price is None:
            continue
        if cap is not None and price > cap:
            continue
        candidate = ShippingChoice(logistic_name=name, cost=price, aging=option.get("logisticAging"))
        if best is None or price < best.cost:
            best = candidate
    return best


def describe_no_option(rule: ShippingRule, country: str, options: list[dict], names: list[str] | None = None,
                       origin: str | None = None) -> str:
    offered = ", ".join(f"{o.get('logisticName')} ${price_of(o)}" for o in options) or "none"
    cap = f" within the cap of ${rule.max_shipping_cost}" if rule.max_shipping_cost is not None else ""
    start = f" from {origin}" if origin else ""
    return (f"no allowed shipping method{start} to {country}{cap}. Rule {rule.country_code!r} allows "
            f"{', '.join(names if names is not None else rule.logistic_names) or 'nothing'}; CJ offers: {offered}. "
            "Resolution: PUT "
            "/admin/shipping-rules to allow one of the offered methods or raise the cap; the order resumes "
            "by itself.")
