"""Admin API: orders (list, detail with history and CJ calls, retry)."""
from __future__ import annotations

from flask import request
from sqlalchemy import select

from service.pipeline.order_queries import find_orders
from service.pipeline.order_state import STATES
from service.pipeline.resume import NotRetryable, acknowledge_hold, retry_order
from service.storage.models import ExternalCall, Order
from service.timeutil import iso
from service.web.admin import bp
from service.web.admin.inputs import MAX_PAGE, get_or_404, int_arg, json_body, load
from service.web.admin.schemas import AcknowledgeSchema
from service.web.context import db_session, runtime
from service.web.json_api import ApiError, ok


def _order_summary(order: Order) -> dict:
    return {"id": order.id, "store_id": order.store_id, "platform_order_id": order.platform_order_id,
            "name": order.name, "state": order.state, "hold_reason": order.hold_reason,
            "hold_detail": order.hold_detail, "cj_order_number": order.cj_order_number,
            "cj_order_id": order.cj_order_id, "cj_order_code": order.cj_order_code, "cj_status": order.cj_status,
            "cj_logistic_name": order.cj_logistic_name, "cj_attempt": order.cj_attempt,
            "total_price": _money(order.total_price), "ship_by": iso(order.ship_by),
            "currency": order.currency, "updated_at": iso(order.updated_at), "created_at": iso(order.created_at)}


@bp.get("/orders")
def list_orders():
    state = request.args.get("state")
    if state and state not in STATES:
        raise ApiError(400, "validation_error", f"state must be one of {', '.join(STATES)}")
    limit = int_arg("limit", 50, MAX_PAGE, minimum=1)
    before_id = int_arg("before_id")
    store_id = int_arg("store_id")
    session = db_session()
    try:
        orders = find_orders(session, state=state, store_id=store_id, text=request.args.get("q"),
                             before_id=before_id, limit=limit)
        return ok({"orders": [_order_summary(o) for o in orders],
                   "next_before_id": orders[-1].id if len(orders) == limit else None})
    finally:
        session.close()


@bp.get("/orders/<int:order_id>")
def get_order(order_id: int):
    session = db_session()
    try:
        return ok(order_detail(session, get_or_404(session, Order, order_id)))
    finally:
        session.close()


def order_detail(session, order: Order) -> dict:
    """The order with its history, CJ calls, shipments and write-backs (the admin API's and the admin page's)."""
    calls = session.scalars(select(ExternalCall).where(ExternalCall.order_id == order.id)
                            .order_by(ExternalCall.id)).all()
    data = _order_summary(order)
    data.update({
        "canonical": order.canonical,
        "cj_lines_sent": order.cj_lines,
        "cj_amounts": {"order": _money(order.cj_order_amount), "product": _money(order.cj_product_amount),
                       "postage": _money(order.cj_postage_amount),
                       "quoted_postage": _money(order.cj_shipping_cost)},
        "usd_rate": _money(order.usd_rate),
        "cj_attempt_history": order.cj_attempt_history or [],
        "acknowledged_holds": order.acknowledged_holds or [],
        "history": [{"at": iso(t.at), "from": t.from_state, "to": t.to_state, "reason": t.reason,
                     "detail": t.detail} for t in order.transitions],
        "cj_calls": [_call_json(c) for c in calls if c.service == "cj"],
        "write_back": [_call_json(c) for c in calls if c.service != "cj"],
        "shipments": [{"tracking_number": s.tracking_number, "carrier": s.carrier, "url": s.tracking_url,
                       "status": s.status, "store_fulfillment_id": s.store_fulfillment_id,
                       "written_at": iso(s.written_at), "last_error": s.last_error} for s in order.shipments],
        "dry_run_request": next((c.request for c in reversed(calls)
                                 if c.operation == "createOrderV2" and c.outcome == "dry_run"), None),
    })
    return data


def _money(value) -> str | None:
    return None if value is None else str(value)


def _call_json(call: ExternalCall) -> dict:
    return {"at": iso(call.at), "service": call.service, "operation": call.operation, "outcome": call.outcome,
            "request": call.request, "response": call.response}


@bp.post("/orders/<int:order_id>/retry")
def retry_order_route(order_id: int):
    session = db_session()
    try:
        order = get_or_404(session, Order, order_id)
        try:
            kind = retry_order(session, order=order)
        except NotRetryable as exc:
            raise ApiError(409, "not_retryable", str(exc)) from None
        session.commit()
        runtime().notifier.jobs_committed()
        return ok({"order_id": order.id, "queued": kind}, 202)
    finally:
        session.close()


@bp.post("/orders/<int:order_id>/acknowledge")
def acknowledge_order_route(order_id: int):
    """The merchant has dealt with a hold that asked for a human (optional body: {"comment": "…"})."""
    data = load(AcknowledgeSchema(), json_body(optional=True) or {})
    session = db_session()
    try:
        order = get_or_404(session, Order, order_id)
        try:
            state = acknowledge_hold(session, order=order, comment=data.get("comment"))
        except NotRetryable as exc:
            raise ApiError(409, "not_held_for_a_human", str(exc)) from None
        session.commit()
        runtime().notifier.jobs_committed()
        return ok({"order_id": order.id, "state": state})
    finally:
        session.close()
