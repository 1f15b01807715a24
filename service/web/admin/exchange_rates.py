"""Admin API: exchange rates (USD per unit of a store currency) for the amounts declared to CJ."""
from __future__ import annotations

from sqlalchemy import delete, select

from service.storage.models import ExchangeRate
from service.timeutil import iso, utcnow
from service.web.admin import bp
from service.web.admin.inputs import json_body, load
from service.web.admin.schemas import ExchangeRateSchema
from service.web.context import db_session
from service.web.json_api import ApiError, ok


def _rate_json(r: ExchangeRate) -> dict:
    return {"currency": r.currency, "usd_per_unit": str(r.usd_per_unit), "updated_at": iso(r.updated_at)}


@bp.get("/exchange-rates")
def list_rates():
    session = db_session()
    try:
        return ok([_rate_json(r) for r in session.scalars(select(ExchangeRate).order_by(ExchangeRate.currency))])
    finally:
        session.close()


@bp.put("/exchange-rates")
def put_rates():
    """Upsert one rate or a list; orders sent to CJ from now on declare their amounts with it."""
    body = json_body()
    items = body if isinstance(body, list) else [body]
    if not items or len(items) > 300:
        raise ApiError(400, "validation_error", "send one rate object or a list of 1 to 300")
    rows = [load(ExchangeRateSchema(), item) for item in items]
    session = db_session()
    try:
        saved = []
        for row in rows:
            code = row["currency"].upper()
            if code == "USD":
                raise ApiError(400, "validation_error", "USD needs no rate", {"currency": ["USD needs no rate"]})
            rate = session.get(ExchangeRate, code) or ExchangeRate(currency=code)
            rate.usd_per_unit = row["usd_per_unit"]
            rate.updated_at = utcnow()
            session.add(rate)
            saved.append(rate)
        session.commit()
        return ok([_rate_json(r) for r in saved])
    finally:
        session.close()


@bp.delete("/exchange-rates/<currency>")
def delete_rate(currency: str):
    session = db_session()
    try:
        res = session.execute(delete(ExchangeRate).where(ExchangeRate.currency == currency.upper()))
        if res.rowcount == 0:
            raise ApiError(404, "rate_not_found", f"no exchange rate for {currency}")
        session.commit()
        return ok({"deleted": currency.upper()})
    finally:
        session.close()
