"""Saving SKU mappings from the merchant (admin API or admin page): upsert, reset what a re-point voids, resume."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.pipeline import store_stock_writes as stock_writes
from service.pipeline.resume import resume_held
from service.storage.models import SkuMapping, Store


class MappingRejected(ValueError):
    """A mapping that cannot be saved: code is store_not_found or mapping_conflict."""

    def __init__(self, code: str, message: str, details=None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


def find_mapping(session: Session, row: dict) -> SkuMapping | None:
    """The existing mapping a row names: by store variant id first, then by store SKU."""
    for column, key in ((SkuMapping.store_variant_id, "store_variant_id"), (SkuMapping.store_sku, "store_sku")):
        if row.get(key):
            found = session.scalar(select(SkuMapping).where(SkuMapping.store_id == row["store_id"],
                                                            column == row[key]))
            if found is not None:
                return found
    return None


def save_mappings(session: Session, rows: list[dict], *, stock_sync: str) -> tuple[list[SkuMapping], int]:
    """Upsert validated rows; held needs_mapping orders of those stores resume. Returns (saved, resumed orders).

    The caller commits. On MappingRejected the session may have been rolled back.
    """
    saved, stores, repointed = [], set(), []
    for row in rows:
        if session.get(Store, row["store_id"]) is None:
            raise MappingRejected("store_not_found", f"no store with id {row['store_id']}")
        mapping = find_mapping(session, row)
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
            mapping.stock_write_after = None  # the old listing's write spacing is not the new one's
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
            raise MappingRejected("mapping_conflict", "this store_sku and store_variant_id belong to two "
                                  "different existing mappings; delete one first", row) from None
        saved.append(mapping)
        stores.add(row["store_id"])
    resumed = sum(resume_held(session, reason="needs_mapping", store_id=s) for s in stores)
    session.flush()
    for mapping in repointed:
        if mapping.want_quantity is not None and not mapping.self_stocked:
            mapping.want_why = "resync"  # CJ's last figure, to the new variant
    if repointed and stock_sync != "off":
        stock_writes.enqueue_store_writes(session, store_ids={m.store_id for m in repointed})
    return saved, resumed
