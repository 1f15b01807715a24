"""Admin API: SKU mappings (store SKU or variant → CJ variant); saving one resumes held orders."""
from __future__ import annotations

from flask import request
from sqlalchemy import select

from service.pipeline.mapping_edits import MappingRejected, find_mapping, save_mappings
from service.storage.models import SkuMapping
from service.timeutil import iso
from service.web.admin import bp
from service.web.admin.inputs import int_arg, json_body, load
from service.web.admin.schemas import SkuMappingKeySchema, SkuMappingSchema
from service.web.context import db_session, runtime
from service.web.json_api import ApiError, ok


def _mapping_json(m: SkuMapping) -> dict:
    return {"id": m.id, "store_id": m.store_id, "store_sku": m.store_sku, "store_variant_id": m.store_variant_id,
            "cj_vid": m.cj_vid, "cj_sku": m.cj_sku, "cj_pid": m.cj_pid, "source": m.source,
            "updated_at": iso(m.updated_at), "stock": {
                "self_stocked": m.self_stocked, "buffer": m.stock_buffer,
                "supplier_unavailable": m.supplier_unavailable,  # CJ no longer sells it: the store shows 0
                "cj_stock": m.cj_stock, "cj_stock_at": iso(m.cj_stock_at),
                "read_requested": m.stock_read_requested_at is not None,
                "want_quantity": m.want_quantity, "write_pending": m.want_why is not None,
                "store_quantity": m.store_quantity, "store_quantity_at": iso(m.store_quantity_at),
                "why": m.store_quantity_why, "error": m.stock_write_error},
            "margin_warning": m.margin_warning}


@bp.get("/sku-mappings")
def list_mappings():
    store_id = int_arg("store_id")
    limit = int_arg("limit", 100, 1000, minimum=1)
    offset = int_arg("offset", 0)
    session = db_session()
    try:
        stmt = select(SkuMapping).order_by(SkuMapping.id).limit(limit).offset(offset)
        if store_id is not None:
            stmt = stmt.where(SkuMapping.store_id == store_id)
        return ok([_mapping_json(m) for m in session.scalars(stmt)])
    finally:
        session.close()


@bp.put("/sku-mappings")
def put_mappings():
    """Upsert one mapping or a list; held needs_mapping orders of those stores resume."""
    body = json_body()
    items = body if isinstance(body, list) else [body]
    if not items or len(items) > 1000:
        raise ApiError(400, "validation_error", "send one mapping object or a list of 1 to 1000")
    rows = [load(SkuMappingSchema(), item) for item in items]
    session = db_session()
    try:
        try:
            saved, resumed = save_mappings(session, rows, stock_sync=runtime().settings.stock_sync)
        except MappingRejected as exc:
            raise ApiError(404 if exc.code == "store_not_found" else 409, exc.code, exc.message, exc.details) from None
        session.commit()
        runtime().notifier.jobs_committed()
        return ok({"mappings": [_mapping_json(m) for m in saved], "resumed_orders": resumed})
    finally:
        session.close()


@bp.delete("/sku-mappings")
def delete_mapping():
    body = json_body(optional=True)
    row = load(SkuMappingKeySchema(), body if body is not None else dict(request.args))
    session = db_session()
    try:
        mapping = find_mapping(session, row)
        if mapping is None:
            raise ApiError(404, "mapping_not_found", "no mapping matches", row)
        session.delete(mapping)
        session.commit()
        return ok({"deleted": mapping.id})
    finally:
        session.close()
