"""Admin page: shipping rules per destination country, edited on their own page; saving one resumes held orders."""
from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import delete, select

from service.pipeline.shipping_rule_edits import save_rules
from service.storage.models import ShippingRule
from service.web.admin.schemas import ShippingRuleSchema
from service.web.context import db_session, runtime
from service.web.ui import bp
from service.web.ui.form_errors import problems_by_field


@bp.get("/shipping-rules")
def shipping_rules():
    session = db_session()
    try:
        edit = session.get(ShippingRule, request.args.get("country", "").upper())
        return _page(session, edit=edit, values=_form_values(edit) if edit else {})
    finally:
        session.close()


def _form_values(rule: ShippingRule) -> dict:
    """A saved rule as the form's fields show it (methods one a line; per origin "US: USPS+, …" a line)."""
    return {"country_code": rule.country_code, "logistic_names": "\n".join(rule.logistic_names),
            "max_shipping_cost": "" if rule.max_shipping_cost is None else str(rule.max_shipping_cost),
            "logistic_names_by_origin": "\n".join(f"{origin}: {', '.join(names)}" for origin, names in
                                                  sorted((rule.logistic_names_by_origin or {}).items())),
            "editing": rule.country_code}


def _origins(text: str) -> dict | str:
    """ "US: USPS+, YunExpress" lines → {"US": ["USPS+", "YunExpress"]}; a line without its origin: what is wrong."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        origin, colon, names = line.partition(":")
        if not colon:
            return f"write each line as an origin, a colon and its methods, e.g. 'US: USPS+' (not {line.strip()!r})"
        origin = origin.strip().upper()
        if origin in found:
            return f"{origin} is given twice: put all of its methods on one line"
        if origin == runtime().settings.cj_from_country.upper():
            return (f"{origin} is CJ_FROM_COUNTRY, whose orders use the rule's own methods (the field above): "
                    "this line would never be used")
        found[origin] = [n.strip() for n in names.split(",") if n.strip()]
    return found


def _page(session, *, edit=None, values: dict, errors: dict | None = None, status: int = 200):
    rules = session.scalars(select(ShippingRule).order_by(ShippingRule.country_code)).all()
    return render_template("ui/shipping_rules.html", rules=rules, edit=edit, values=values,
                           errors=errors or {}), status


@bp.post("/shipping-rules")
def save_shipping_rule():
    typed = {key: request.form.get(key, "") for key in ("country_code", "logistic_names", "max_shipping_cost",
                                                        "logistic_names_by_origin", "editing")}
    # Methods one per line or comma-separated: CJ's names contain spaces ("CJPacket Ordinary"), never commas.
    names = [n.strip() for n in re.split(r"[,\n]", typed["logistic_names"]) if n.strip()]
    item = {"country_code": typed["country_code"].strip(), "logistic_names": names,
            "max_shipping_cost": typed["max_shipping_cost"].strip() or None}
    origins = _origins(typed["logistic_names_by_origin"])
    if isinstance(origins, dict):
        item["logistic_names_by_origin"] = origins
    session = db_session()
    try:
        try:
            row = ShippingRuleSchema().load(item)
            if isinstance(origins, str):
                raise ValidationError({"logistic_names_by_origin": [origins]})
        except ValidationError as exc:
            # The same page again, as typed, each problem next to its field (a redirect would lose both).
            return _page(session, values=typed, errors=problems_by_field(exc.messages), status=400)
        existing = session.get(ShippingRule, row["country_code"].upper())
        if existing is not None and not origins and typed["editing"].upper() != existing.country_code:
            # Added from the empty form over a saved rule: its per-origin methods, not shown there, stay.
            row["logistic_names_by_origin"] = existing.logistic_names_by_origin or {}
        _saved, resumed = save_rules(session, [row])
        session.commit()
        runtime().notifier.jobs_committed()
        flash(f"Rule {row['country_code'].upper()} saved; {resumed} held order(s) resume.", "ok")
        return redirect(url_for("ui.shipping_rules"))
    finally:
        session.close()


@bp.post("/shipping-rules/<country_code>/delete")
def delete_shipping_rule(country_code: str):
    session = db_session()
    try:
        gone = session.execute(delete(ShippingRule).where(ShippingRule.country_code == country_code.upper())).rowcount
        session.commit()
        flash(f"Rule {country_code.upper()} deleted." if gone else f"There is no rule {country_code}.",
              "ok" if gone else "error")
        return redirect(url_for("ui.shipping_rules"))
    finally:
        session.close()
