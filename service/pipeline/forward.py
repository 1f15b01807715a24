"""forward_order: map lines, choose shipping, create the CJ order exactly once, pay it when allowed.

Every CJ call here can wait a long time for the account's shared request slot. The order is read again
before the create and before each payment step, so a cancel, refund or edit that the store sent meanwhile
decides what happens next, never the snapshot this job started with.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters import get_adapter
from service.cj.errors import (AUTH, EXISTS, INSUFFICIENT_BALANCE_CODES, NEEDS_HUMAN, POINTS_EXHAUSTED, RATE_LIMITED,
                               CjApiError, CjTransportError, retry_if_transient)
from service.cj.order_ids import cj_ids
from service.jobs.outcomes import RetryLater
from service.jobs.queue import enqueue
from service.storage.models import ExternalCall, Order, Store
from service.pipeline import edit_propagation, freight_quotes, mapping, origin_choice, shipping, stock_sync
from service.pipeline.call_log import record_call
from service.pipeline.cj_attempts import start_new_attempt
from service.pipeline.order_state import (CJ_PAID_STATUSES, acknowledged, advance, hold, held_for_human, note,
                                          transition)
from service.pipeline.usd_amounts import CENT, in_usd, usd_rate
from service.runtime import Runtime
from service.timeutil import utcnow

log = logging.getLogger("cj_bridge.pipeline")

FORWARDABLE_STATES = ("ready", "held")
# Holds for a human that a payment never goes around. (A grown order may still be paid: what was sent is
# still wanted. Refund and postage holds are decided again before each payment, in _payment_blocked.)
PAYMENT_BLOCKING_HOLDS = ("cancel_needs_attention", "cj_cancelled", "edit_needs_attention", "edit_resubmitting")
_RECHECKED_HOLDS = ("refunded_after_submission", "postage_over_cap")
# A store change marked as waiting longer than this is no longer waited for (its job may have died).
STORE_CHANGE_WAIT = timedelta(minutes=2)
STEP_ASIDE_SECONDS = 3.0
PAY_IN_CREATE, CREATE_ONLY = 2, 3  # createOrderV2 payType
# A quote above this share of the rule's cap is paid only after CJ's create answer states the postage.
CAP_MARGIN = Decimal("0.9")
PAYMENT_REFUSED_CODES = (1604000, 1604001)
METHOD_REFUSED_CODES = (1605000, 1605001)  # logistic not found / invalid
_LIMITS = {"shippingCountryCode": 20, "shippingCountry": 50, "shippingProvince": 50, "shippingCity": 50,
           "shippingZip": 20, "shippingAddress": 200, "shippingAddress2": 200, "shippingCustomerName": 50,
           "shippingPhone": 20, "email": 50, "remark": 500}

class OrderChanged(Exception):
    """The store order changed while this job waited for CJ: the decision is taken again."""


def forward_order(session: Session, *, order_id: int, runtime: Runtime) -> str:
    order = session.get(Order, order_id)
    if order is None:
        return "missing"
    _step_aside_for_store_change(order)
    if order.cancelled:
        return _cancel_instead(session, order)
    if order.cj_create_state is not None and order.cj_status == "CANCELLED" and order.state == "held" \
            and order.hold_reason == "cj_cancelled":
        # The merchant's retry of a CJ-cancelled order asks for a new CJ order.
        start_new_attempt(session, order, why="CJ cancelled its order; re-sent on the merchant's retry")
        transition(session, order, "ready", reason="resend_requested")
    elif order.state == "held" and order.hold_reason == edit_propagation.NEEDS_ATTENTION \
            and order.cj_create_state is not None:
        # The merchant's retry after an edit hold: CJ's order is looked up again, and replaced if still unpaid.
        return edit_propagation.resubmit_edited_order(session, order_id=order.id, cj_attempt=order.cj_attempt or 0,
                                                      runtime=runtime)
    elif order.state == "held" and order.hold_reason == "cj_order_number_taken":
        start_new_attempt(session, order, why="CJ's order under this number is not ours; sent under a new number")
        transition(session, order, "ready", reason="resend_requested")
    if order.cj_create_state == "created" or order.cj_order_id:
        return pay_if_allowed(session, order=order, runtime=runtime)
    if order.state not in FORWARDABLE_STATES:
        return f"nothing_to_do:{order.state}"
    try:
        return _create(session, order=order, runtime=runtime)
    except OrderChanged as exc:
        raise RetryLater(f"{exc}; deciding again", retry_after=0.5, count_attempt=False) from None


def _create(session: Session, *, order: Order, runtime: Runtime) -> str:
    seen = order.canonical
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
    default_origin = runtime.settings.cj_from_country
    origin = origin_choice.choose_origin(session, runtime=runtime, destination=country, products=products)
    choice = quote = names = None
    for start in dict.fromkeys([origin.country, default_origin]):  # the chosen warehouse, then the default
        names = shipping.allowed_names(rule, start, default_origin)
        key = freight_quotes.quote_key(start=start, end=country, products=products,
                                       zone=freight_quotes.zone_of(runtime, country, address.get("zip")))
        cached = freight_quotes.cached_options(session, runtime=runtime, key=key)
        if cached is not None:
            quote = freight_quotes.Quote(cached, key, True)
            choice = shipping.choose(rule, cached, names)
        elif len(names) == 1 and rule.max_shipping_cost is None and not _unquoted_method_refused(session, order):
            # One allowed method and no cap: nothing to choose and nothing to check, so no quote (10 points and
            # a request slot). CJ's create answer states the postage; a refusal of the method asks for a quote.
            choice = shipping.ShippingChoice(logistic_name=names[0], cost=None, aging=None)
        elif runtime.settings.cj_dry_run:
            # Nothing is asked of CJ: the request is recorded and the rule's first method assumed.
            record_call(session, order_id=order.id, service="cj", operation="freightCalculate", outcome="dry_run",
                        request={"startCountryCode": start, "endCountryCode": country, "zip": address.get("zip"),
                                 "products": products})
            choice = shipping.ShippingChoice(logistic_name=names[0], cost=None, aging=None) if names else None
        else:
            try:
                quote = freight_quotes.freight_options(session, runtime=runtime, start=start, end=country,
                                                       zip_code=address.get("zip"), products=products)
            except (CjApiError, CjTransportError) as exc:
                if start != default_origin:
                    continue  # the local warehouse could not be quoted: ship from the default origin
                return _cj_failure(session, order, exc, stage="freightCalculate")
            choice = shipping.choose(rule, quote.options, names)
        if choice is not None:
            break
    if not runtime.settings.cj_dry_run:
        _reread(session, order, seen)
        if order.cancelled:
            return _cancel_instead(session, order)
    if choice is None:
        hold(session, order, "needs_shipping_rule", shipping.describe_no_option(
            rule, country, quote.options if quote else [], names, start if start != default_origin else None))
        return "held"
    why = origin.why if start == origin.country else \
        f"{origin.why}, but no allowed method from {origin.country} was offered; shipped from {start}"
    note(session, order, "ships_from", f"{start}: {why}")
    order.cj_from_country = start

    rate = usd_rate(session, order.currency)
    body = build_create_request(order=order, store=store, mapped=mapped, choice=choice, from_country=start,
                                usd_rate=rate, pay_in_create=_pay_in_create(order, choice, rule, runtime))
    if rate is None and order.canonical.get("total_price"):
        note(session, order, "amounts_not_declared", f"no USD rate for {order.currency or 'an unknown currency'}: "
             "shopAmount and unitPrice were left out of the CJ order (CJ reads them as USD). Resolution: PUT "
             "/admin/exchange-rates with the currency's rate to declare them on later orders.")
    order.cj_logistic_name = choice.logistic_name
    order.cj_shipping_cost = choice.cost
    order.usd_rate = rate
    order.cj_lines = [{"line_id": m.line["line_id"], "line_ref": m.line.get("line_ref"), "vid": m.vid,
                       "quantity": int(m.line["quantity"])} for m in mapped]
    if runtime.settings.cj_dry_run:
        record_call(session, order_id=order.id, service="cj", operation="createOrderV2", request=body,
                    outcome="dry_run")
        hold(session, order, "dry_run", "CJ_DRY_RUN is on: the createOrderV2 request was recorded, nothing was "
             "sent. Resolution: set CJ_API_KEY and CJ_DRY_RUN=false, then POST /admin/orders/<id>/retry.")
        return "dry_run"
    return create_exactly_once(session, order=order, body=body, runtime=runtime, quote=quote)


def _unquoted_method_refused(session: Session, order: Order) -> bool:
    """Whether CJ already refused a method this order named without a fresh quote: then it is quoted."""
    refused = session.scalars(select(ExternalCall.response).where(
        ExternalCall.order_id == order.id, ExternalCall.operation == "createOrderV2", ExternalCall.outcome == "error"))
    return any((response or {}).get("code") in METHOD_REFUSED_CODES for response in refused)


def _pay_in_create(order: Order, choice: shipping.ShippingChoice, rule, runtime: Runtime) -> bool:
    """Whether createOrderV2 should also pay (payType 2: one CJ call per order instead of three).

    Not when auto-pay is off, nor for an order refunded in full, nor when the quote is near the rule's cap:
    CJ's create answer can charge more postage than its quote, and such an order must be checked before it
    is paid (then it is created, checked, confirmed and paid: three calls).
    """
    if not runtime.settings.cj_auto_pay or order.canonical.get("refunded"):
        return False
    cap = rule.max_shipping_cost
    return cap is None or choice.cost is None or choice.cost <= cap * CAP_MARGIN


def create_exactly_once(session: Session, *, order: Order, body: dict, runtime: Runtime,
                        quote: freight_quotes.Quote | None = None) -> str:
    """Create the CJ order unless it may already exist; an unknown earlier outcome is looked up first.

    quote: where the shipping method came from; a cached quote that CJ contradicts is forgotten.
    """
    if order.cj_create_state == "pending":
        session.commit()
        try:
            detail = runtime.cj.get_order_detail(order.cj_order_number)
        except (CjApiError, CjTransportError) as exc:
            return _cj_failure(session, order, exc, stage="getOrderDetail")
        if detail:
            taken = _not_ours(detail, body)
            if taken:
                return _number_taken(session, order, taken)
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
            taken = _not_ours(detail, body)
            if taken:
                return _number_taken(session, order, taken)
            bind_cj_order(session, order, detail, how="CJ answered 1603003 (already exists); bound to it")
            return pay_if_allowed(session, order=order, runtime=runtime)
        if exc.code in METHOD_REFUSED_CODES and (quote is None or quote.cached):
            # The method was not quoted for this order (one allowed method, or a cached quote) and CJ refuses
            # it: the next attempt asks CJ for a fresh quote.
            if quote is not None:
                freight_quotes.forget(session, quote.key, why=f"CJ refused the quoted method ({exc.code})")
            order.cj_create_state = None
            call.outcome = "error"
            session.commit()
            raise RetryLater(f"CJ refused a method it had not just quoted ({exc.code}); quoting again",
                             retry_after=0.5, count_attempt=False)
        if exc.code in PAYMENT_REFUSED_CODES and body.get("payType") == PAY_IN_CREATE:
            # Create-and-pay: CJ may have created the order and only the payment failed. Bind it if so.
            call.outcome = "error"
            session.commit()
            return _unpaid_after_create(session, order=order, body=body, exc=exc, runtime=runtime)
        if exc.category in (NEEDS_HUMAN, RATE_LIMITED, AUTH):
            # CJ answered and refused: nothing was created, a later create is safe. Retryable codes
            # (busy, read timed out) leave the outcome unknown, so the mark stays and we look up first.
            order.cj_create_state = None
        if exc.code in stock_sync.DELISTED_CODES:
            # CJ no longer sells a variant of it: the stores selling it learn so before the next customer buys.
            stock_sync.note_refused_variants(
                session, code=exc.code, vids={str(p["vid"]) for p in body.get("products") or [] if p.get("vid")})
        call.outcome = "error"
        return _cj_failure(session, order, exc, stage="createOrderV2")
    call.response = data
    call.outcome = "ok"
    bind_cj_order(session, order, data, how="created" + (" and paid in one call" if body.get("payType") ==
                                                          PAY_IN_CREATE else ""))
    if quote is not None and order.cj_postage_amount is not None and order.cj_shipping_cost is not None \
            and order.cj_postage_amount != order.cj_shipping_cost:
        # CJ charges another price than it quoted: the next order asks for a fresh quote.
        freight_quotes.forget(session, quote.key, why=f"quoted {order.cj_shipping_cost}, charged "
                                                      f"{order.cj_postage_amount}")
        session.commit()
    intercepted = [r for r in (data.get("interceptOrderReasons") or []) if isinstance(r, dict)]
    if intercepted and order.cj_pay_state != "paid":
        reasons = "; ".join(f"{r.get('code')}: {r.get('message')}" for r in intercepted)
        hold(session, order, "cj_intercepted", f"CJ created order {order.cj_order_id} but intercepted it ({reasons}). "
             "Resolution: resolve it on My CJ (the reasons say what CJ needs), then POST /admin/orders/<id>/retry.")
        return "held"
    if body.get("payType") == PAY_IN_CREATE and order.cj_pay_state != "paid" and order.cj_status != "UNPAID":
        # CJ did not say the order is paid or awaiting payment: its status decides before anything is paid.
        return pay_if_allowed(session, order=order, runtime=runtime)
    return pay_if_allowed(session, order=order, runtime=runtime, fresh=True)


def _unpaid_after_create(session: Session, *, order: Order, body: dict, exc: CjApiError, runtime: Runtime) -> str:
    """createOrderV2 with payType 2 answered 1604000/1604001: the order may exist, unpaid."""
    try:
        detail = runtime.cj.get_order_detail(order.cj_order_number)
    except (CjApiError, CjTransportError):
        raise RetryLater(f"{exc}; whether CJ created the order unpaid is looked up before anything else") from None
    if detail and not _not_ours(detail, body):
        bind_cj_order(session, order, detail, how=f"created by CJ, not paid ({exc.cj_message})")
        order.cj_confirmed = detail.get("orderStatus") == "UNPAID" or order.cj_confirmed
    else:
        order.cj_create_state = None  # nothing was created: the next attempt creates (and pays) it
    if exc.code in INSUFFICIENT_BALANCE_CODES:
        hold(session, order, "insufficient_balance", f"CJ wallet balance is too low to pay CJ order "
             f"{order.cj_order_id or order.cj_order_number} ({exc.cj_message}). Resolution: top up the CJ balance; "
             "the order is retried on a schedule, or now with POST /admin/orders/<id>/retry.")
    else:
        hold(session, order, "cj_rejected", f"CJ refused to pay order {order.cj_order_id or order.cj_order_number} "
             f"from the balance: code {exc.code}: {exc.cj_message}. Resolution: {exc.resolution}.")
    return "held"


def _not_ours(detail: dict, body: dict) -> str | None:
    """How CJ's existing order with our orderNumber differs from the one we asked for (None: it is ours).

    Only what CJ's answer states is compared: another deployment or shop sharing the CJ account (or a
    re-created database) can have used the number for a different order, and binding it would ship, pay and
    track someone else's parcel as ours.
    """
    differences = []
    country = str(detail.get("shippingCountryCode") or "").strip().upper()
    if country and country != body["shippingCountryCode"].upper():
        differences.append(f"destination {country}")
    name = " ".join(str(detail.get("shippingCustomerName") or "").split()).lower()
    if name and name != " ".join(body["shippingCustomerName"].split()).lower():
        differences.append("customer name")
    products = [p for p in detail.get("productList") or [] if isinstance(p, dict)]
    if products:
        theirs = Counter((str(p.get("vid")), int(p.get("quantity") or 0)) for p in products)
        if theirs != Counter((p["vid"], int(p["quantity"])) for p in body["products"]):
            differences.append("lines")
    return ", ".join(differences) or None


def _number_taken(session: Session, order: Order, differences: str) -> str:
    order.cj_create_state = None  # nothing of ours exists under this number
    hold(session, order, "cj_order_number_taken",
         f"CJ already has an order numbered {order.cj_order_number} that is not this one (it differs in: "
         f"{differences}): another store or deployment on this CJ account used the number. It was not bound. "
         "Resolution: look at that order on My CJ; then POST /admin/orders/<id>/retry to send this order "
         "under a new number.")
    return "held"


def bind_cj_order(session: Session, order: Order, data: dict, *, how: str) -> None:
    """Persist what CJ told us about the order the moment we know it."""
    cj_id, code = cj_ids(data)
    order.cj_create_state = "created"
    if cj_id:
        order.cj_order_id = cj_id
    if code:
        order.cj_order_code = code
    status = data.get("orderStatus")
    if status:
        order.cj_status = str(status)
    for attr, key in (("cj_order_amount", "orderAmount"), ("cj_product_amount", "productAmount"),
                      ("cj_postage_amount", "postageAmount")):
        if data.get(key) is not None:
            setattr(order, attr, Decimal(str(data[key])).quantize(CENT))
    if data.get("logisticName"):
        order.cj_logistic_name = data["logisticName"]
    order.last_cj_update_at = utcnow()
    detail = f"CJ order {order.cj_order_id or '(id pending ORDER_CONNNECTED)'}: {how}"
    advance(session, order, "submitted", reason="cj_order_created", detail=detail)
    if order.cj_status in CJ_PAID_STATUSES:
        order.cj_pay_state = "paid"
        advance(session, order, "paid", reason="cj_reports_paid")
    session.commit()


def pay_if_allowed(session: Session, *, order: Order, runtime: Runtime, fresh: bool = False) -> str:
    """With CJ_AUTO_PAY on: confirm the CJ order and pay it from the wallet balance, once.

    fresh: the order was created in this run, so its CJ status is known and needs no lookup. Never pays an
    order the store cancelled or fully refunded, nor one whose CJ postage went over the rule's cap, unless
    the merchant said so (acknowledge).
    """
    if order.cj_pay_state == "paid" or order.state not in ("submitted", "held"):
        return order.state
    if not runtime.settings.cj_auto_pay:
        if order.state == "held" and not held_for_human(order):
            transition(session, order, "submitted", reason="auto_pay_off",
                       detail="CJ_AUTO_PAY is off: pay the order on My CJ")
        return "submitted"
    if not order.cj_order_id:
        return "waiting_for_cj_order_id"
    blocked = _payment_blocked(session, order, runtime)
    if blocked:
        return blocked
    seen = order.canonical
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
            _reread(session, order, seen)
            blocked = _payment_blocked(session, order, runtime)
            if blocked:
                return blocked
        order.cj_pay_state = "pending"
        session.commit()
        runtime.cj.pay_balance(order.cj_order_id)
    except OrderChanged as exc:
        raise RetryLater(f"{exc}; deciding again before paying", retry_after=0.5, count_attempt=False) from None
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


def _payment_blocked(session: Session, order: Order, runtime: Runtime) -> str | None:
    """Why this order must not be paid now (it is held or handed to the cancel job), or None."""
    if order.cancelled:
        return _cancel_instead(session, order)
    if order.state == "held" and order.hold_reason in PAYMENT_BLOCKING_HOLDS \
            and not acknowledged(order, order.hold_reason):
        return "held"
    if order.canonical.get("refunded") and not acknowledged(order, "refunded_after_submission"):
        hold(session, order, "refunded_after_submission",
             f"the store refunded the whole order without cancelling it; CJ order {order.cj_order_id} is not "
             "paid and is not paid while this hold stands. Resolution: cancel the order in the store to delete "
             "the CJ order, or POST /admin/orders/<id>/acknowledge to pay and ship it anyway.")
        return "held"
    cap = shipping.cap_for(session, order)
    if cap is not None and order.cj_postage_amount is not None and order.cj_postage_amount > cap \
            and not acknowledged(order, "postage_over_cap"):
        hold(session, order, "postage_over_cap",
             f"CJ's order {order.cj_order_id} charges ${order.cj_postage_amount} postage, over the shipping "
             f"rule's cap of ${cap} (the freight quote was ${order.cj_shipping_cost}). It is not paid. "
             "Resolution: POST /admin/orders/<id>/acknowledge to pay it anyway, raise the cap (PUT "
             "/admin/shipping-rules, which resumes the order), or cancel the order in the store.")
        return "held"
    if order.state == "held" and order.hold_reason in _RECHECKED_HOLDS:
        transition(session, order, "submitted", reason="hold_cause_gone",
                   detail=f"{order.hold_reason} no longer applies")
    return None


def _mark_paid(session: Session, order: Order, detail: str) -> str:
    order.cj_pay_state = "paid"
    order.cj_paid_at = utcnow()
    advance(session, order, "paid", reason="cj_paid", detail=detail)
    return "paid"


def _cancel_instead(session: Session, order: Order) -> str:
    """The store cancelled the order: nothing goes to CJ, and a CJ order that may exist is cancelled."""
    if order.cj_create_state is None:
        if order.state != "cancelled":
            transition(session, order, "cancelled", reason="store_cancelled")
        return "cancelled"
    enqueue(session, kind="cancel_cj_order", payload={"order_id": order.id},
            dedupe_key=f"cancel_cj_order:{order.id}")
    return "cancel_queued"


def _step_aside_for_store_change(order: Order) -> None:
    """A store change for this order is waiting for our lock: let it go first (it may be a cancel)."""
    waiting = order.store_change_waiting_at
    if waiting is not None and utcnow() - waiting < STORE_CHANGE_WAIT:
        raise RetryLater("a store change for this order is waiting: it is applied first",
                         retry_after=STEP_ASIDE_SECONDS, count_attempt=False)


def _reread(session: Session, order: Order, seen: dict) -> None:
    """Read the order again after a CJ call; a store change made meanwhile wins over what this job saw."""
    session.refresh(order)
    _step_aside_for_store_change(order)
    if not order.cancelled and order.canonical != seen:
        raise OrderChanged("the store order changed while this job waited for CJ")


def _cj_failure(session: Session, order: Order, exc: Exception, *, stage: str) -> str:
    """Turn a CJ failure into a retry (transient) or a hold that says how to fix it."""
    session.commit()  # what we learned (call log, create mark reset) must survive the retry's rollback
    if isinstance(exc, CjApiError) and exc.budget is not None:
        # A daily budget is used up: waiting in the queue until CJ's reset would only burn retries.
        budget = "points" if exc.budget == POINTS_EXHAUSTED else f"{exc.budget} quota"
        hold(session, order, "cj_budget_used_up", f"CJ's daily {budget} budget is used up ({exc.cj_message}); "
             f"{stage} cannot run before CJ's reset at 00:00 UTC. Resolution: none needed, the order resumes by "
             "itself after the reset; GET /readyz shows the points left.")
        return "held"
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


def build_create_request(*, order: Order, store: Store, mapped: list[mapping.MappedLine],
                         choice: shipping.ShippingChoice, from_country: str, usd_rate: Decimal | None,
                         pay_in_create: bool = False) -> dict:
    """The createOrderV2 body for this order (cj-api.md §5.1): payType 2 creates and pays from the
    balance in one call, payType 3 only creates.

    Amounts are declared in USD at usd_rate (USD per unit of the store's currency), or left out when no
    rate is known: CJ reads them as USD, and a yen amount sent as dollars would be off by a hundredfold.
    """
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
        "platform": get_adapter(store.platform).cj_platform,
        "payType": PAY_IN_CREATE if pay_in_create else CREATE_ONLY,
        "shopLogisticsType": 2,
        "products": [],
    }
    for key, limit in _LIMITS.items():
        body[key] = str(body[key])[:limit]
    shop_amount = in_usd(order.canonical.get("total_price"), usd_rate)
    if shop_amount is not None:
        body["shopAmount"] = shop_amount
    for m in mapped:
        product = {"vid": m.vid, "quantity": int(m.line["quantity"]), "storeLineItemId": m.line["line_id"]}
        price = in_usd(m.line.get("unit_price"), usd_rate)
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
