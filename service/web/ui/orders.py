"""Admin page: orders (counts by state, a filtered list, one order with its history), retry and acknowledge."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from service.pipeline.order_queries import count_by_state, find_orders, unmapped_lines
from service.pipeline.order_state import HUMAN_HOLDS, STATES
from service.pipeline.resume import NotRetryable, acknowledge_hold, retry_order
from service.storage.models import Order, Store
from service.web.admin.orders import order_detail
from service.web.context import db_session, runtime
from service.web.ui import bp
from service.web.ui.order_fixes import variant_candidates

PAGE = 50
# The order page shows who and where the parcel goes, no more: no e-mail, phone or street.
ADDRESS_FIELDS = ("name", "city", "province_code", "country_code")


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None  # a row id, or none


@bp.get("/")
def orders():
    state = request.args.get("state") or None
    if state not in STATES:
        state = None
    store_id, before_id = _int_arg("store_id"), _int_arg("before_id")
    text = request.args.get("q", "").strip()
    session = db_session()
    try:
        found = find_orders(session, state=state, store_id=store_id, text=text, before_id=before_id, limit=PAGE)
        stores = {s.id: s for s in session.scalars(select(Store).order_by(Store.id))}
        return render_template("ui/orders.html", orders=found, stores=stores, counts=count_by_state(session),
                               states=STATES, state=state, store_id=store_id, q=text,
                               next_before_id=found[-1].id if len(found) == PAGE else None)
    finally:
        session.close()


@bp.get("/orders/<int:order_id>")
def order(order_id: int):
    return _order_page(order_id, lookup_sku="")


@bp.post("/orders/<int:order_id>/lookup")
def lookup_variant(order_id: int):
    """CJ's variants for a SKU, shown on the order page. A POST (with its CSRF token): asking CJ spends the
    account's request slots and points, which a link from another site must not be able to do."""
    return _order_page(order_id, lookup_sku=request.form.get("lookup_sku", "").strip()[:100])


def _order_page(order_id: int, *, lookup_sku: str):
    session = db_session()
    try:
        row = session.get(Order, order_id)
        if row is None:
            abort(404, f"There is no order {order_id}.")
        detail = order_detail(session, row)
        canonical = detail.pop("canonical") or {}
        address = canonical.get("shipping_address") or {}
        missing = unmapped_lines(session, row) if row.state == "held" and row.hold_reason == "needs_mapping" else []
        lookup, lookup_error = variant_candidates(session, lookup_sku) if lookup_sku and missing else ([], None)
        return render_template(
            "ui/order.html", order=detail, store=session.get(Store, row.store_id),
            lines=canonical.get("lines", []), address={k: address.get(k) for k in ADDRESS_FIELDS if address.get(k)},
            missing=missing, human_hold=row.state == "held" and row.hold_reason in HUMAN_HOLDS,
            lookup_sku=lookup_sku, lookup=lookup, lookup_error=lookup_error)
    finally:
        session.close()


def _resolution(detail: str | None) -> tuple[str, str]:
    """A hold's detail split into what happened and its 'Resolution:' sentence."""
    what, _, how = (detail or "").partition("Resolution:")
    return what.strip(), how.strip()


bp.add_app_template_filter(_resolution, "resolution")


@bp.post("/orders/<int:order_id>/retry")
def retry(order_id: int):
    return _act_on_order(order_id, lambda session, row: f"Retry queued ({retry_order(session, order=row)}).")


@bp.post("/orders/<int:order_id>/acknowledge")
def acknowledge(order_id: int):
    comment = request.form.get("comment", "").strip()[:500] or None
    return _act_on_order(order_id, lambda session, row: "Acknowledged; the order is now "
                         f"{acknowledge_hold(session, order=row, comment=comment)}.")


def _act_on_order(order_id: int, act):
    """One button on the order page: act(session, order) → what to say; a refusal (NotRetryable) is said instead."""
    session = db_session()
    try:
        row = session.get(Order, order_id)
        if row is None:
            abort(404, f"There is no order {order_id}.")
        try:
            done = act(session, row)
        except NotRetryable as exc:
            flash(str(exc), "error")
        else:
            session.commit()
            runtime().notifier.jobs_committed()
            flash(done, "ok")
        return redirect(url_for("ui.order", order_id=order_id))
    finally:
        session.close()
