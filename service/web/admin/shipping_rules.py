"""Admin API: shipping rules per destination country; saving one resumes held orders."""
from __future__ import annotations

from sqlalchemy import delete, select

from service.pipeline.resume import resume_held
from service.storage.models import ShippingRule
from service.timeutil import iso
from service.web.admin import bp
from service.web.admin.inputs import json_body, load
from service.web.admin.schemas import ShippingRuleSchema
from service.web.context import db_session, runtime
from service.web.json_api import ApiError, ok


def _rule_json(r: ShippingRule) -> dict:
    return {"country_code": r.country_code, "logistic_names": r.logistic_names,
            "max_shipping_cost": str(r.max_shipping_cost) if r.max_shipping_cost is not None else None,
            "logistic_names_by_origin": r.logistic_names_by_origin or {},
            "updated_at": iso(r.updated_at)}


@bp.get("/shipping-rules")
def list_rules():
    session = db_session()
    try:
        return ok([_rule_json(r) for r in session.scalars(select(ShippingRule).order_by(ShippingRule.country_code))])
    finally:
        session.close()


@bp.put("/shipping-rules")
def put_rules():
    """Upsert one rule or a list ('*' is the default); held needs_shipping_rule orders resume."""
    body = json_body()
    items = body if isinstance(body, list) else [body]
    if not items or len(items) > 300:
        raise ApiError(400, "validation_error", "send one rule object or a list of 1 to 300")
    rows = [load(ShippingRuleSchema(), item) for item in items]
    session = db_session()
    try:
        saved = []
        for row in rows:
            code = row["country_code"].upper()
            rule = session.get(ShippingRule, code) or ShippingRule(country_code=code)
            rule.logistic_names = [n.strip() for n in row["logistic_names"]]
            rule.max_shipping_cost = row.get("max_shipping_cost")
            rule.logistic_names_by_origin = {origin.upper(): [n.strip() for n in names]
                                             for origin, names in row["logistic_names_by_origin"].items()}
            session.add(rule)
            saved.append(rule)
        session.flush()
        # A CJ order held because its postage went over the old cap is decided again with the new one.
        resumed = sum(resume_held(session, reason=reason) for reason in ("needs_shipping_rule", "postage_over_cap"))
        session.commit()
        runtime().notifier.jobs_committed()
        return ok({"rules": [_rule_json(r) for r in saved], "resumed_orders": resumed})
    finally:
        session.close()


@bp.delete("/shipping-rules/<country_code>")
def delete_rule(country_code: str):
    session = db_session()
    try:
        res = session.execute(delete(ShippingRule).where(ShippingRule.country_code == country_code.upper()))
        if res.rowcount == 0:
            raise ApiError(404, "rule_not_found", f"no shipping rule for {country_code}")
        session.commit()
        return ok({"deleted": country_code.upper()})
    finally:
        session.close()
