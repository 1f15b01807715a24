"""Admin page: fixing a needs_mapping order in place (a CJ variant per unmapped line, CJ's lookup by SKU)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from marshmallow import ValidationError

from service.pipeline.mapping_edits import MappingRejected, save_mappings
from service.pipeline.order_queries import unmapped_lines
from service.pipeline.variant_lookup import LookupFailed, variants_by_sku
from service.storage.models import Order
from service.web.admin.schemas import SkuMappingSchema
from service.web.context import db_session, runtime
from service.web.ui import bp
from service.web.ui.form_errors import first_problem

FIELD_PREFIX = "cj_vid-"  # one field per unmapped line: cj_vid-<line id>


def variant_candidates(session, sku: str) -> tuple[list[dict], str | None]:
    """(CJ's variants for the SKU, None) or ([], why not); a found match is committed to the cache."""
    try:
        rows = variants_by_sku(session, runtime=runtime(), sku=sku)
    except LookupFailed as exc:
        return [], str(exc)
    session.commit()
    return rows, None


@bp.post("/orders/<int:order_id>/mappings")
def save_order_mappings(order_id: int):
    """Map each line given a CJ variant; the store keys come from the order itself, never from the form."""
    session = db_session()
    try:
        order = session.get(Order, order_id)
        if order is None:
            abort(404, f"There is no order {order_id}.")
        rows, problems = [], []
        for line in unmapped_lines(session, order):
            vid = request.form.get(f"{FIELD_PREFIX}{line['line_id']}", "").strip()
            if not vid:
                continue
            item = {"store_id": order.store_id, "cj_vid": vid}
            if line.get("variant_id"):
                item["store_variant_id"] = str(line["variant_id"])
            if line.get("sku"):
                item["store_sku"] = line["sku"]
            try:
                rows.append(SkuMappingSchema().load(item))
            except ValidationError as exc:
                problems.append(f"line {line.get('title') or line['line_id']}: {first_problem(exc.messages)}")
        if problems or not rows:
            flash("; ".join(problems) or "Give a CJ variant id for at least one line.", "error")
            return redirect(url_for("ui.order", order_id=order_id))
        try:
            saved, resumed = save_mappings(session, rows, stock_sync=runtime().settings.stock_sync)
        except MappingRejected as exc:
            flash(exc.message, "error")
            return redirect(url_for("ui.order", order_id=order_id))
        session.commit()
        runtime().notifier.jobs_committed()
        flash(f"Saved {len(saved)} mapping(s); {resumed} held order(s) resume.", "ok")
        return redirect(url_for("ui.order", order_id=order_id))
    finally:
        session.close()

