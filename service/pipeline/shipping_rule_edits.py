"""Saving shipping rules from the merchant (admin API or admin page); held orders they may free resume."""
from __future__ import annotations

from sqlalchemy.orm import Session

from service.pipeline.resume import resume_held
from service.storage.models import ShippingRule


def save_rules(session: Session, rows: list[dict]) -> tuple[list[ShippingRule], int]:
    """Upsert validated rows ('*' is the default); returns (saved rules, resumed orders). The caller commits."""
    saved = []
    for row in rows:
        code = row["country_code"].upper()
        rule = session.get(ShippingRule, code) or ShippingRule(country_code=code)
        rule.logistic_names = [n.strip() for n in row["logistic_names"]]
        rule.max_shipping_cost = row.get("max_shipping_cost")
        rule.logistic_names_by_origin = {origin.upper(): [n.strip() for n in names]
                                         for origin, names in (row.get("logistic_names_by_origin") or {}).items()}
        session.add(rule)
        saved.append(rule)
    session.flush()
    # A CJ order held because its postage went over the old cap is decided again with the new one.
    resumed = sum(resume_held(session, reason=reason) for reason in ("needs_shipping_rule", "postage_over_cap"))
    return saved, resumed
