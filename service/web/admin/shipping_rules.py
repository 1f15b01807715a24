"""Admin API: shipping rules per destination country; saving one resumes held orders."""
from __future__ import annotations

from sqlalchemy import delete, select

from service.pipeline.shipping_rule_edits import save_rules
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
        saved, resumed = save_rules(session, rows)
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
