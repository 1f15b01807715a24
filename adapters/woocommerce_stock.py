"""WooCommerce stock (and rule price) writes: stock_quantity and regular_price through the batch endpoints.

Each round reads the products' (or a variable product's variations') stock first and writes only what differs,
up to 100 a batch call. WooCommerce has no compare-and-swap: the figure is read just before the write, which
narrows, but cannot close, the window in which a person's edit in wp-admin could be overwritten.
A product whose stock WooCommerce does not manage ("Manage stock?" off) is never written.
"""
from __future__ import annotations

from typing import Callable

from adapters.base import StockResult, StockTarget, optional_int
from service.money import to_cents

BATCH = 100  # WooCommerce's batch endpoints take at most 100 objects

Request = Callable[..., object]  # (method, path, operation, params=None, json=None, ok=...) → parsed JSON


def set_stock(request: Request, *, targets: list[StockTarget]) -> list[StockResult]:
    results: dict[int, StockResult] = {}
    refs: dict[int, dict] = {}
    for target in targets:
        ref = dict(target.ref or {})
        if not ref.get("id"):
            ref = _resolve(request, target)
        if ref is None:
            results[target.mapping_id] = StockResult(
                target.mapping_id, "skipped", None, "WooCommerce has no product or variation with this mapping's "
                "store_variant_id (or its store_sku is not a simple product's). Resolution: correct the mapping "
                "(PUT /admin/sku-mappings with the variation id as store_variant_id).")
        else:
            refs[target.mapping_id] = ref
    groups: dict[int | None, list[StockTarget]] = {}  # parent product id (None: simple products) → targets
    for target in targets:
        if target.mapping_id in refs:
            groups.setdefault(refs[target.mapping_id].get("parent_id"), []).append(target)
    for parent, members in groups.items():
        for start in range(0, len(members), BATCH):
            chunk = members[start:start + BATCH]
            _set_group(request, parent=parent, targets=chunk, refs=refs, results=results)
    return [results[t.mapping_id] for t in targets]


def _resolve(request: Request, target: StockTarget) -> dict | None:
    if target.store_variant_id and target.store_variant_id.isdigit():
        found = request("GET", f"/wc/v3/products/{target.store_variant_id}", "getProduct", ok=(200, 404))
        if isinstance(found, dict) and found.get("id"):
            parent = found.get("parent_id") if found.get("type") == "variation" else None
            return {"id": int(found["id"]), "parent_id": int(parent) if parent else None}
        return None
    if target.store_sku:
        found = request("GET", "/wc/v3/products", "findProductBySku", params={"sku": target.store_sku})
        matches = [p for p in found or [] if isinstance(p, dict) and p.get("sku") == target.store_sku]
        if len(matches) == 1 and matches[0].get("type") == "simple":
            return {"id": int(matches[0]["id"]), "parent_id": None}
    return None


def _set_group(request: Request, *, parent: int | None, targets: list[StockTarget], refs: dict,
               results: dict) -> None:
    ids = [refs[t.mapping_id]["id"] for t in targets]
    path = f"/wc/v3/products/{parent}/variations" if parent else "/wc/v3/products"
    listed = request("GET", path, "readStock", params={"include": ",".join(map(str, ids)), "per_page": BATCH})
    current = {int(item["id"]): item for item in listed or [] if isinstance(item, dict) and item.get("id")}
    updates, writing = [], []
    for target in targets:
        ref = refs[target.mapping_id]
        item = current.get(ref["id"])
        if item is None:
            results[target.mapping_id] = StockResult(target.mapping_id, "skipped", None, "WooCommerce no longer "
                                                     "lists this product. Resolution: correct the mapping.", ref)
            continue
        figure, shown_price = optional_int(item.get("stock_quantity")), to_cents(item.get("regular_price"))
        change = {}
        result = StockResult(target.mapping_id, "unchanged", figure, "", ref,
                             store_price=shown_price if target.price is not None else None)
        if target.quantity is not None:
            if item.get("manage_stock") is not True:  # False, or "parent" (a variation counted at its product)
                result = StockResult(
                    target.mapping_id, "skipped", figure, "WooCommerce does not manage this item's own stock. "
                    "Resolution: turn on 'Manage stock?' for it in WooCommerce, or mark the mapping self_stocked.",
                    ref, store_price=result.store_price)
            elif figure != target.quantity:
                change["stock_quantity"] = target.quantity
        if target.price is not None and shown_price != target.price:
            change["regular_price"] = str(target.price)
        results[target.mapping_id] = result
        if change:
            updates.append(dict(change, id=ref["id"]))
            writing.append((target, figure, ref, change))
    if not updates:
        return
    answer = request("POST", f"{path}/batch", "batchSetStock", json={"update": updates})
    answered = {}
    for item in (answer or {}).get("update") or [] if isinstance(answer, dict) else []:
        if isinstance(item, dict) and item.get("id") is not None:
            answered[int(item["id"])] = item
    for target, figure, ref, change in writing:
        item = answered.get(ref["id"]) or {}
        applied = not item.get("error") and all(
            (optional_int(item.get(k)) if k == "stock_quantity" else to_cents(item.get(k))) ==
            (v if k == "stock_quantity" else to_cents(v)) for k, v in change.items())
        if not applied:
            code = (item.get("error") or {}).get("code") or "not applied"
            results[target.mapping_id] = StockResult(
                target.mapping_id, "skipped", figure, f"WooCommerce refused the update of {ref['id']} ({code}). "
                "Resolution: check the product in WooCommerce, then resync the store.", ref)
            continue
        before = results[target.mapping_id]
        written = "stock_quantity" in change
        results[target.mapping_id] = StockResult(
            target.mapping_id, "written" if written else before.outcome,
            target.quantity if written else before.store_quantity,
            f"{figure} → {target.quantity}" if written else before.detail, ref,
            store_price=to_cents(item.get("regular_price")) if target.price is not None else None)
