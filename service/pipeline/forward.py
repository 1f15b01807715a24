"""forward_order: map lines, choose shipping, create the CJ order exactly once, pay it when allowed."""
from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy.orm import Session

from service.cj.errors import (AUTH, EXISTS, INSUFFICIENT_BALANCE_CODES, NEEDS_HUMAN, RATE_LIMITED, CjApiError,
                               CjTransportError, retry_if_transient)
from service.jobs.outcomes import RetryLater
from service.storage.models import Order, Store
from service.pipeline import mapping, shipping
from service.pipeline.call_log import record_call
from service.pipeline.order_state import CJ_PAID_STATUSES, hold, transition
from service.runtime import Runtime
from service.timeutil import utcnow

log = logging.getLogger("cj_bridge.pipeline")

FORWARDABLE_STATES = ("ready", "held")
_LIMITS = {"shippingCountryCode": 20, "shippingCountry": 50, "shippingProvince": 50, "shippingCity": 50,
           "shippingZip": 20, "shippingAddress": 200, "shippingAddress2": 200, "shippingCustomerName": 50,
           "shippingPhone": 20, "email": 50, "remark": 500}


def forward_order(session: Session, *, order_id: int, runtime: Runtime) -> str:
    order = session.get(Order, order_id)
    if order is None:
        return "missing"
    if order.state == "submitted" and order.cj_pay_state != "paid":
        # A payment attempt failed or timed out after the CJ order was created: finish paying it.
        return pay_if_allowed(session, order=order, runtime=runtime)
    if order.state not in FORWARDABLE_STATES:
        return f"nothing_to_do:{order.state}"
    if order.cancelled:
        transition(session, order, "cancelled", reason="store_cancelled")
        return "cancelled"
    if order.cj_order_id or order.cj_create_state == "created":
        return pay_if_allowed(session, order=order, runtime=runtime)

    store = session.get(Store, order.store_id)
    lines = [l for l in order.canonical.get("lines", []) if l.get("requires_shipping", True) and l["quantity"] > 0]
    if not lines:
        transition(session, order, "skipped", reason="nothing_to_ship",
                   detail="no line of this order needs shipping from CJ")
        return "skipped"
    address = order.canonical.get("shipping_address")
    problem = _address_problem(address)
    if problem:
        hold(session, order, "needs_address", f"{problem}. Resolution: correct the shipping address in the "
             "store; the store's orders/updated webhook resumes the order.")
        return "held"

    mapped, missing = mapping.resolve_lines(session, store_id=store.id, lines=lines)
    if missing and not runtime.settings.cj_dry_run:
        _auto_match(session, runtime=runtime, missing=missing)
        mapped, missing = mapping.resolve_lines(session, store_id=store.id, lines=lines)
    if missing:
        hold(session, order, "needs_mapping", mapping.describe_missing(missing))
        return "held"

    country = address["country_code"].upper()
    rule = shipping.rule_for(session, country)
    if rule is None or not rule.logistic_names:
        hold(session, order, "needs_shipping_rule", f"no shipping rule for {country} and no default rule. "
             "Resolution: PUT /admin/shipping-rules with a rule for this country or '*'; the order resumes by itself.")
        return "held"
    products = [{"vid": m.vid, "quantity": int(m.line["quantity"])} for m in mapped]
    if runtime.settings.cj_dry_run:
        choice = shipping.ShippingChoice(logistic_name=rule.logistic_names[0], cost=None, aging=None)
        freight_request = {"startCountryCode": runtime.settings.cj_from_country, "endCountryCode": country,
                           "zip": address.get("zip"), "products": products}
        record_call(session, order_id=order.id, service="cj", operation="freightCalculate",
                    request=freight_request, outcome="dry_run")
    else:
        session.commit()  # no transaction may stay open across a CJ call
        try:
            options = runtime.cj.freight_calculate(start_country=runtime.settings.cj_from_country,
                                                   end_country=country, zip_code=address.get("zip"),
                                                   products=products)
        except (CjApiError, CjTransportError) as exc:
            return _cj_failure(session, order, exc, stage="freightCalculate")
        choice = shipping.choose(rule, options)
        if choice is None:
            hold(session, order, "needs_shipping_rule", shipping.describe_no_option(rule, country, options))
            return "held"

    body = build_create_request(order=order, store=store, mapped=mapped, choice=choice,
                                from_country=runtime.settings.cj_from_country)
    order.cj_logistic_name = choice.logistic_name
    order.cj_shipping_cost = choice.cost
    if runtime.settings.cj_dry_run:
        record_call(session, order_id=order.id, service="cj", operation="createOrderV2", request=body,
                    outcome="dry_run")
        hold(session, order, "dry_run", "CJ_DRY_RUN is on: the createOrderV2 request was recorded, nothing was "
             "sent. Resolution: set CJ_API_KEY and CJ_DRY_RUN=false, then POST /admin/orders/<id>/retry.")
        return "dry_run"
    return create_exactly_once(session, order=order, body=body, runtime=runtime)


def create_exactly_once(session: Session, *, order: Order, body: dict, runtime: Runtime) -> str:
    """Create the CJ order unless it may already exist; an unknown earlier outcome is looked up first."""
    if order.cj_create_state == "pending":
        session.commit()
        try:
            detail = runtime.cj.get_order_detail(order.cj_order_number)
        except (CjApiError, CjTransportError) as exc:
            return _cj_failure(session, order, exc, stage="getOrderDetail")
        if detail:
            bind_cj_order(session, order, detail, how="found by lookup after an unknown create outcome")
            return pay_if_allowed(session, order=order, runtime=runtime)

    order.cj_create_state = "pending"
    call = record_call(session, order_id=order.id, service="cj", operation="createOrderV2", request=body,
                       outcome="unknown")
    session.commit()  # the pending mark must be durable before CJ can act on the request
    try:
        data = runtime.cj.create_order_v2(body)
    except CjTransportError as exc:
        raise RetryLater(f"{exc}; the order will be looked up at CJ before any new create") from None
    except CjApiError as exc:
        call.response = {"code": exc.code, "message": exc.cj_message, "requestId": exc.request_id}
        if exc.category == EXISTS:
            call.outcome = "exists"
            session.commit()
            detail = runtime.cj.get_order_detail(order.cj_order_number)
            if not detail:
                raise RetryLater("CJ says the order exists (1603003) but the lookup found nothing yet")
            bind_cj_order(session, order, detail, how="CJ answered 1603003 (already exists); bound to it")
            return pay_if_allowed(session, order=order, runtime=runtime)
        if exc.category in (NEEDS_HUMAN, RATE_LIMITED, AUTH):
            # CJ answered and refused: nothing was created, a later create is safe. Retryable codes
            # (busy, read timed out) leave the outcome unknown, so the mark stays and we look up first.
            order.cj_create_state = None
        call.outcome = "error"
        return _cj_failure(session, order, exc, stage="createOrderV2")
    call.response = data
    call.outcome = "ok"
    bind_cj_order(session, order, data, how="created")
    return pay_if_allowed(session, order=order, runtime=runtime, fresh=True)


def bind_cj_order(session: Session, order: Order, data: dict, *, how: str) -> None:
    """Persist what CJ told us about the order the moment we know it."""
    cj_id = data.get("orderId") or data.get("cjOrderId")
    order.cj_create_state = "created"
    if cj_id:
        order.cj_order_id = str(cj_id)
    status = data.get("orderStatus")
    if status:
        order.cj_status = str(status)
    amount = data.get("orderAmount")
    if amount is not None:
        order.cj_order_amount = Decimal(str(amount))
    if data.get("logisticName"):
        order.cj_logistic_name = data["logisticName"]
    order.last_cj_update_at = utcnow()
    detail = f"CJ order {order.cj_order_id or '(id pending ORDER_CONNNECTED)'}: {how}"
    transition(session, order, "submitted", reason="cj_order_created", detail=detail)
    if order.cj_status in CJ_PAID_STATUSES:
        order.cj_pay_state = "paid"
        transition(session, order, "paid", reason="cj_reports_paid")
    session.commit()


def pay_if_allowed(session: Session, *, order: Order, runtime: Runtime, fresh: bool = False) -> str:
    """With CJ_AUTO_PAY on: confirm the CJ order and pay it from the wallet balance, once.

    fresh: the order was created in this run, so its CJ status is known and needs no lookup.
    """
    if order.cj_pay_state == "paid" or order.state not in ("submitted", "held"):
        return order.state
    if not runtime.settings.cj_auto_pay:
        if order.state == "held":
            transition(session, order, "submitted", reason="auto_pay_off",
                       detail="CJ_AUTO_PAY is off: pay the order on My CJ")
        return "submitted"
    if not order.cj_order_id:
        return "waiting_for_cj_order_id"
    session.commit()
    try:
        if order.cj_pay_state == "pending" or (not order.cj_confirmed and not fresh):
            # An earlier confirm or pay may have gone through: CJ's status is the truth.
            detail = runtime.cj.get_order_detail(order.cj_order_id)
            status = (detail or {}).get("orderStatus")
            if status:
                order.cj_status = status
            if status in CJ_PAID_STATUSES:
                return _mark_paid(session, order, "CJ already reports the order paid")
            if status == "UNPAID":
                order.cj_confirmed = True
        if not order.cj_confirmed:
            runtime.cj.confirm_order(order.cj_order_id)
            order.cj_confirmed = True
            session.commit()
        order.cj_pay_state = "pending"
        session.commit()
        runtime.cj.pay_balance(order.cj_order_id)
    except CjTransportError as exc:
        raise RetryLater(str(exc)) from None
    except CjApiError as exc:
        if exc.code in INSUFFICIENT_BALANCE_CODES:
            order.cj_pay_state = None
            hold(session, order, "insufficient_balance", f"CJ wallet balance is too low to pay CJ order "
                 f"{order.cj_order_id} ({exc.cj_message}). Resolution: top up the CJ balance; the order is "
                 "retried on a schedule, or now with POST /admin/orders/<id>/retry.")
            return "held"
        if exc.category in (NEEDS_HUMAN, RATE_LIMITED):
            order.cj_pay_state = None
        return _cj_failure(session, order, exc, stage="payBalance")
    return _mark_paid(session, order, "paid from the CJ wallet balance")


def _mark_paid(session: Session, order: Order, detail: str) -> str:
    order.cj_pay_state = "paid"
    order.cj_paid_at = utcnow()
    transition(session, order, "paid", reason="cj_paid", detail=detail)
    return "paid"


def _cj_failure(session: Session, order: Order, exc: Exception, *, stage: str) -> str:
    """Turn a CJ failure into a retry (transient) or a hold that says how to fix it."""
    session.commit()  # what we learned (call log, create mark reset) must survive the retry's rollback
    retry_if_transient(exc)
    assert isinstance(exc, CjApiError)
    if exc.category in (NEEDS_HUMAN, AUTH):
        hold(session, order, "cj_rejected", f"CJ {stage} refused the order: code {exc.code}: {exc.cj_message}. "
             f"Resolution: {exc.resolution}.")
        return "held"
    raise RetryLater(str(exc)) from None


def _address_problem(address: dict | None) -> str | None:
    if not address:
        return "the order has no shipping address"
    missing = [k for k in ("country_code", "city", "address1") if not (address.get(k) or "").strip()]
    if not _customer_name(address):
        missing.append("name")
    return f"the shipping address lacks {', '.join(missing)}" if missing else None


def _customer_name(address: dict) -> str:
    name = (address.get("name") or "").strip()
    return name or " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p).strip()


def _money(value) -> float | None:
    return None if value in (None, "") else float(Decimal(str(value)))


def build_create_request(*, order: Order, store: Store, mapped: list[mapping.MappedLine],
                         choice: shipping.ShippingChoice, from_country: str) -> dict:
    """The createOrderV2 body for this order (cj-api.md §5.1); payType 3 = create only."""
    a = order.canonical["shipping_address"]
    body = {
        "orderNumber": order.cj_order_number,
        "shippingCountryCode": a["country_code"].upper(),
        "shippingCountry": a.get("country") or a["country_code"].upper(),
        "shippingProvince": a.get("province") or a.get("province_code") or a["city"],
        "shippingCity": a["city"],
        "shippingZip": a.get("zip") or "",
        "shippingAddress": a["address1"],
        "shippingAddress2": a.get("address2") or "",
        "shippingCustomerName": _customer_name(a),
        "shippingPhone": a.get("phone") or "",
        "email": order.canonical.get("email") or "",
        "remark": f"Store order {order.canonical.get('name') or order.platform_order_id}",
        "logisticName": choice.logistic_name,
        "fromCountryCode": from_country,
        "platform": store.platform,
        "payType": 3,
        "shopLogisticsType": 2,
        "products": [],
    }
    for key, limit in _LIMITS.items():
        body[key] = str(body[key])[:limit]
    shop_amount = _money(order.canonical.get("total_price"))
    if shop_amount is not None:
        body["shopAmount"] = shop_amount
    for m in mapped:
        product = {"vid": m.vid, "quantity": int(m.line["quantity"]), "storeLineItemId": m.line["line_id"]}
        price = _money(m.line.get("unit_price"))
        if price is not None:
            product["unitPrice"] = price
        body["products"].append(product)
    return body


def _auto_match(session: Session, *, runtime: Runtime, missing: list[dict]) -> None:
    """Ask CJ about SKUs that look like CJ variant SKUs; answers (found or not) are cached."""
    for sku in mapping.auto_match_candidates(missing):
        known, _vid = mapping.cached_vid(session, sku)
        if known:
            continue
        session.commit()
        try:
            variants = runtime.cj.query_variants_by_sku(sku)
        except (CjApiError, CjTransportError) as exc:
            retry_if_transient(exc)
            if exc.category != NEEDS_HUMAN:
                raise RetryLater(str(exc)) from None
            variants = []  # e.g. 1602000 variant not found: cache the "no"
        vid = mapping.vid_from_variants(sku, variants)
        mapping.remember_vid(session, sku, vid)
        if vid:
            log.info("sku_auto_matched", extra={"fields": {"sku": sku, "vid": vid}})
