"""Store lines → CJ variant ids, through the SKU mapping table and, optionally, CJ's variant query."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.storage.models import CjVariantCache, SkuMapping
from service.timeutil import utcnow

# SKUs that look like CJ variant SKUs ("CJxxxx-…") are worth asking CJ about.
CJ_SKU_PREFIX = "CJ"


@dataclass
class MappedLine:
    line: dict
    vid: str
    cj_sku: str | None


def find_mapping(session: Session, *, store_id: int, line: dict) -> SkuMapping | None:
    """Variant id first (SKUs can be empty or reused), then the SKU."""
    conditions = []
    if line.get("variant_id"):
        conditions.append(SkuMapping.store_variant_id == line["variant_id"])
    if line.get("sku"):
        conditions.append(SkuMapping.store_sku == line["sku"])
    if not conditions:
        return None
    rows = session.scalars(select(SkuMapping).where(SkuMapping.store_id == store_id, or_(*conditions))).all()
    by_variant = [r for r in rows if line.get("variant_id") and r.store_variant_id == line["variant_id"]]
    return (by_variant or rows or [None])[0]


def cached_vid(session: Session, variant_sku: str) -> tuple[bool, str | None]:
    """(known, vid): whether CJ was already asked about this SKU, and its answer."""
    row = session.get(CjVariantCache, variant_sku)
    return (row is not None, row.vid if row else None)


def remember_vid(session: Session, variant_sku: str, vid: str | None) -> None:
    row = session.get(CjVariantCache, variant_sku)
    if row is None:
        session.add(CjVariantCache(variant_sku=variant_sku, vid=vid, fetched_at=utcnow()))
    else:
        row.vid, row.fetched_at = vid, utcnow()


def auto_match_candidates(lines: list[dict]) -> list[str]:
    return sorted({l["sku"] for l in lines if l.get("sku") and l["sku"].upper().startswith(CJ_SKU_PREFIX)})


def vid_from_variants(variant_sku: str, variants: list[dict]) -> str | None:
    """The vid whose variantSku is exactly this SKU (CJ's query can return siblings)."""
    for v in variants:
        if str(v.get("variantSku") or "").strip().lower() == variant_sku.lower() and v.get("vid"):
            return str(v["vid"])
    return None


def resolve_lines(session: Session, *, store_id: int, lines: list[dict], use_cache: bool = True
                  ) -> tuple[list[MappedLine], list[dict]]:
    """Split lines into mapped ones and the ones still missing a CJ variant (one query for all the lines);
    use_cache=False: only a mapping counts, not CJ's cached answer for the SKU."""
    variants = {l["variant_id"] for l in lines if l.get("variant_id")}
    skus = {l["sku"] for l in lines if l.get("sku")}
    rows = session.scalars(select(SkuMapping).where(SkuMapping.store_id == store_id, or_(
        SkuMapping.store_variant_id.in_(variants), SkuMapping.store_sku.in_(skus)))).all() if variants or skus else []
    by_variant = {r.store_variant_id: r for r in rows if r.store_variant_id}
    by_sku = {r.store_sku: r for r in rows if r.store_sku}
    mapped, missing = [], []
    for line in lines:
        # Variant id first (SKUs can be empty or reused), then the SKU: as find_mapping.
        mapping = by_variant.get(line.get("variant_id")) or by_sku.get(line.get("sku"))
        if mapping is not None:
            mapped.append(MappedLine(line=line, vid=mapping.cj_vid, cj_sku=mapping.cj_sku))
            continue
        known, vid = cached_vid(session, line["sku"]) if line.get("sku") and use_cache else (False, None)
        if known and vid:
            mapped.append(MappedLine(line=line, vid=vid, cj_sku=line["sku"]))
        else:
            missing.append(line)
    return mapped, missing


def describe_missing(missing: list[dict]) -> str:
    parts = []
    for line in missing:
        parts.append(f"line {line['line_id']} ({line.get('title') or 'untitled'}): "
                     f"sku={line.get('sku') or '(empty)'} variant_id={line.get('variant_id') or '(none)'}")
    return ("no CJ variant is mapped for " + "; ".join(parts) + ". Resolution: PUT /admin/sku-mappings with "
            "store_sku or store_variant_id and cj_vid for each line; the order resumes by itself.")
