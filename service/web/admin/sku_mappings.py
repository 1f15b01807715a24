"""Admin API: SKU mappings (store SKU or variant → CJ variant); saving one resumes held orders."""
from __future__ import annotations

from flask import request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.pipeline import store_stock_writes as stock_writes
from service.pipeline.resume import resume_held
from service.storage.models import SkuMapping, Store
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
        saved, stores, repointed = [], set(), []
        for row in rows:
            if session.get(Store, row["store_id"]) is None:
                raise ApiError(404, "store_not_found", f"no store with id {row['store_id']}")
            mapping = _find_mapping(session, row)
            if mapping is None:
                mapping = SkuMapping(store_id=row["store_id"], source="admin")
                session.add(mapping)
            if (row.get("store_variant_id") and mapping.store_variant_id
                    and row["store_variant_id"] != mapping.store_variant_id) or (
                    row.get("store_sku") and mapping.store_sku and not mapping.store_variant_id
                    and row["store_sku"] != mapping.store_sku):
                # Another store variant: the ids the adapter learned, and what it was given, were the old one's;
                # the new one gets CJ's figure at once (a resync of this mapping), not when the poll comes by.
                mapping.store_stock_ref = {}
                mapping.store_quantity = mapping.store_quantity_at = mapping.store_quantity_why = None
                mapping.store_price = mapping.store_price_at = None
                repointed.append(mapping)
            mapping.store_sku = row.get("store_sku") or mapping.store_sku
            mapping.store_variant_id = row.get("store_variant_id") or mapping.store_variant_id
            if mapping.cj_vid != row["cj_vid"]:
                # Another CJ variant: what was known about the old one says nothing about this one; a new or
                # changed mapping is read by the stock poll first (never read: oldest).
                mapping.supplier_unavailable = mapping.cj_stock = mapping.cj_stock_at = None
                mapping.want_quantity = mapping.want_why = mapping.want_price = None
                mapping.cj_pid = mapping.margin_warning = None
            mapping.cj_vid = row["cj_vid"]
            mapping.cj_sku = row.get("cj_sku")
            for key in ("cj_pid", "self_stocked", "stock_buffer"):
                if key in row:
                    setattr(mapping, key, row[key])
            if mapping.self_stocked:  # the merchant's from now on: nothing waiting for it is read or written
                mapping.stock_read_requested_at = mapping.stock_read_why = mapping.want_why = None
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                raise ApiError(409, "mapping_conflict", "this store_sku and store_variant_id belong to two "
                               "different existing mappings; delete one first", row) from None
            saved.append(mapping)
            stores.add(row["store_id"])
        resumed = sum(resume_held(session, reason="needs_mapping", store_id=s) for s in stores)
        session.flush()
        for mapping in repointed:
            if mapping.want_quantity is not None and not mapping.self_stocked:
                mapping.want_why = "resync"  # CJ's last figure, to the new variant
        if repointed and runtime().settings.stock_sync != "off":
            stock_writes.enqueue_store_writes(session, store_ids={m.store_id for m in repointed})
        session.commit()
        runtime().notifier.jobs_committed()
        return ok({"mappings": [_mapping_json(m) for m in saved], "resumed_orders": resumed})
    finally:
        session.close()


def _find_mapping(session, row: dict) -> SkuMapping | None:
    for column, key in ((SkuMapping.store_variant_id, "store_variant_id"), (SkuMapping.store_sku, "store_sku")):
        if row.get(key):
            found = session.scalar(select(SkuMapping).where(SkuMapping.store_id == row["store_id"],
                                                            column == row[key]))
            if found is not None:
                return found
    return None


@bp.delete("/sku-mappings")
def delete_mapping():
    body = json_body(optional=True)
    row = load(SkuMappingKeySchema(), body if body is not None else dict(request.args))
    session = db_session()
    try:
        mapping = _find_mapping(session, row)
        if mapping is None:
            raise ApiError(404, "mapping_not_found", "no mapping matches", row)
        session.delete(mapping)
        session.commit()
        return ok({"deleted": mapping.id})
    finally:
        session.close()
