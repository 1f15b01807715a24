"""Shopify stock (and rule price) writes: inventorySetQuantities with changeFromQuantity (compare-and-swap).

Each batch reads the variants' inventory items and their "available" figure at the location first, writes
only what differs, and states the figure it read as changeFromQuantity: if the store's figure moved in
between (a sale, or a person in Shopify admin), Shopify refuses that item (CHANGE_FROM_QUANTITY_STALE). The
item is then read again; it is left as the store has it unless it already shows our figure. The mutation
carries an idempotency key (required since 2026-04), new for each call; a call retried after a lost answer is
refused as stale (its changeFromQuantity no longer holds), read again and found written.
A pricing rule's price is written with productVariantsBulkUpdate, per product, only where it differs.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import Callable

from adapters.base import StockResult, StockTarget
from service.jobs.outcomes import NeedsHuman
from service.money import to_cents

BATCH = 50  # variants per read and per mutation: well inside the query cost budget

STOCK_OF_VARIANTS_QUERY = """
query StockOfVariants($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on ProductVariant {
      id
      sku
      price
      product { id }
      inventoryItem {
        id
        tracked
        inventoryLevels(first: 20) {
          nodes { location { id } quantities(names: ["available"]) { name quantity } }
        }
      }
    }
  }
}
"""

VARIANT_BY_SKU_QUERY = """
query VariantBySku($query: String!) {
  productVariants(first: 2, query: $query) { nodes { id sku } }
}
"""

SET_PRICES_MUTATION = """
mutation SetPrices($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id price }
    userErrors { code field message }
  }
}
"""

SET_QUANTITIES_MUTATION = """
mutation SetStock($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""

GraphQL = Callable[[str, dict, str], dict]  # (document, variables, operation) → data


def variant_gid(value: str) -> str:
    return value if value.startswith("gid://") else f"gid://shopify/ProductVariant/{value}"


def set_stock(graphql: GraphQL, *, store_id: int, targets: list[StockTarget], location_id: str | None
              ) -> list[StockResult]:
    results: list[StockResult] = []
    for start in range(0, len(targets), BATCH):
        results.extend(_set_batch(graphql, store_id=store_id, targets=targets[start:start + BATCH],
                                  location_id=location_id))
    return results


def _set_batch(graphql: GraphQL, *, store_id: int, targets: list[StockTarget], location_id: str | None
               ) -> list[StockResult]:
    results: dict[int, StockResult] = {}
    gids: dict[int, str] = {}
    for target in targets:
        gid = (target.ref or {}).get("variant_gid") or (variant_gid(target.store_variant_id)
                                                        if target.store_variant_id else None)
        if gid is None and target.store_sku:
            gid = _variant_by_sku(graphql, target.store_sku)
        if gid is None:
            results[target.mapping_id] = StockResult(target.mapping_id, "skipped", None, _NO_VARIANT)
        else:
            gids[target.mapping_id] = gid
    levels = _read(graphql, sorted(set(gids.values())))
    writes = []  # (target, item id, location, figure read)
    for target in targets:
        if target.mapping_id in results:
            continue
        gid = gids[target.mapping_id]
        state = levels.get(gid)
        ref = {"variant_gid": gid}
        if state is None:
            results[target.mapping_id] = StockResult(target.mapping_id, "skipped", None, _NO_VARIANT, ref)
            continue
        ref["inventory_item_id"] = state["item"]
        if target.quantity is None:  # only the price is asked for
            results[target.mapping_id] = StockResult(target.mapping_id, "unchanged", None, "", ref)
            continue
        if not state["tracked"]:
            results[target.mapping_id] = StockResult(
                target.mapping_id, "skipped", None, "Shopify does not track this variant's quantity. Resolution: "
                "turn on 'Track quantity' for it in Shopify admin, or mark the mapping self_stocked.", ref)
            continue
        location, why_not = _location(state["levels"], location_id)
        if location is None:
            results[target.mapping_id] = StockResult(target.mapping_id, "skipped", None, why_not, ref)
            continue
        ref["location_id"] = location
        current = state["levels"][location]
        if current == target.quantity:
            results[target.mapping_id] = StockResult(target.mapping_id, "unchanged", current, "", ref)
        else:
            writes.append((target, state["item"], location, current, ref))
    if writes:
        stale, refused = _write(graphql, store_id=store_id, writes=writes)
        for index, why in refused.items():
            target, _item, _at, current, ref = writes[index]
            results[target.mapping_id] = StockResult(target.mapping_id, "skipped", current, why, ref)
        for index, (target, item, location, current, ref) in enumerate(writes):
            if index not in stale and index not in refused:
                results[target.mapping_id] = StockResult(target.mapping_id, "written", target.quantity,
                                                         f"{current} → {target.quantity}", ref)
        if stale:
            again = _read(graphql, sorted({writes[i][4]["variant_gid"] for i in stale}))
            for index in stale:
                target, item, location, current, ref = writes[index]
                now = ((again.get(ref["variant_gid"]) or {}).get("levels") or {}).get(location)
                outcome = "unchanged" if now == target.quantity else "store_changed"
                results[target.mapping_id] = StockResult(
                    target.mapping_id, outcome, now,
                    "" if outcome == "unchanged" else
                    f"the store's figure moved from {current} to {now} while {target.quantity} was being written: "
                    "left as the store has it (the next change of CJ's stock, or a resync, decides again)", ref)
    _set_prices(graphql, targets=[t for t in targets if t.price is not None and t.mapping_id in gids],
                gids=gids, levels=levels, results=results)
    return [results[t.mapping_id] for t in targets]


def _set_prices(graphql: GraphQL, *, targets: list[StockTarget], gids: dict, levels: dict, results: dict) -> None:
    """The pricing rule's prices, one productVariantsBulkUpdate per product, for the variants that differ."""
    by_product: dict[str, list[StockTarget]] = {}
    for target in targets:
        state = levels.get(gids[target.mapping_id])
        if state is None:
            continue
        if state["price"] == target.price:
            results[target.mapping_id].store_price = target.price
        elif state["product"]:
            by_product.setdefault(state["product"], []).append(target)
    for product, members in by_product.items():
        variants = [{"id": gids[t.mapping_id], "price": str(t.price)} for t in members]
        payload = graphql(SET_PRICES_MUTATION, {"productId": product, "variants": variants},
                          "productVariantsBulkUpdate").get("productVariantsBulkUpdate") or {}
        errors = payload.get("userErrors") or []
        if errors:  # this product's prices only: the stock written above stands, the other products go on
            why = ("Shopify refused the price (" + "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
                   + "). Resolution: check the app's write_products scope and the product in Shopify admin.")
            for target in members:
                results[target.mapping_id].price_error = why
            continue
        shown = {v.get("id"): v.get("price") for v in payload.get("productVariants") or []}
        for target in members:
            price = to_cents(shown.get(gids[target.mapping_id]))
            results[target.mapping_id].store_price = price
            results[target.mapping_id].detail = (results[target.mapping_id].detail + f"; price {price}").lstrip("; ")


_NO_VARIANT = ("Shopify has no variant with this mapping's store_variant_id or store_sku. Resolution: correct the "
               "mapping (PUT /admin/sku-mappings).")


def _variant_by_sku(graphql: GraphQL, sku: str) -> str | None:
    escaped = sku.replace("\\", "\\\\").replace('"', '\\"')
    data = graphql(VARIANT_BY_SKU_QUERY, {"query": f'sku:"{escaped}"'}, "productVariantsBySku")
    nodes = [n for n in ((data.get("productVariants") or {}).get("nodes") or []) if n.get("sku") == sku]
    return nodes[0]["id"] if len(nodes) == 1 else None  # two variants share the SKU: not guessed


def _read(graphql: GraphQL, gids: list[str]) -> dict[str, dict]:
    """variant gid → {item, tracked, levels: {location gid: available}}."""
    if not gids:
        return {}
    data = graphql(STOCK_OF_VARIANTS_QUERY, {"ids": gids}, "stockOfVariants")
    found = {}
    for node in data.get("nodes") or []:
        if not isinstance(node, dict) or not node.get("id") or not node.get("inventoryItem"):
            continue
        item = node["inventoryItem"]
        levels = {}
        for level in ((item.get("inventoryLevels") or {}).get("nodes") or []):
            quantity = next((q.get("quantity") for q in level.get("quantities") or []
                             if q.get("name") == "available"), None)
            if (level.get("location") or {}).get("id") and quantity is not None:
                levels[level["location"]["id"]] = int(quantity)
        found[node["id"]] = {"item": item["id"], "tracked": bool(item.get("tracked")), "levels": levels,
                             "price": to_cents(node.get("price")), "product": (node.get("product") or {}).get("id")}
    return found



def _location(levels: dict[str, int], wanted: str | None) -> tuple[str | None, str]:
    if wanted:
        gid = wanted if wanted.startswith("gid://") else f"gid://shopify/Location/{wanted}"
        if gid in levels:
            return gid, ""
        return None, (f"the variant is not stocked at location {gid} (the store's stock_location_id). Resolution: "
                      "stock it there in Shopify admin, or correct stock_location_id (PATCH /admin/stores/<id>).")
    if len(levels) == 1:
        return next(iter(levels)), ""
    return None, (f"the variant is stocked at {len(levels)} locations and the store names none. Resolution: set "
                  "the location CJ's stock is counted at: PATCH /admin/stores/<id> {\"stock_location_id\": …}.")


def _write(graphql: GraphQL, *, store_id: int, writes: list) -> tuple[set[int], dict[int, str]]:
    """One mutation for the batch: (indexes whose changeFromQuantity was stale, indexes Shopify refused → why)."""
    quantities = [{"inventoryItemId": item, "locationId": location, "quantity": target.quantity,
                   "changeFromQuantity": current} for target, item, location, current, _ref in writes]
    digest = hashlib.sha256(json.dumps(quantities, sort_keys=True).encode()).hexdigest()
    variables = {"input": {"name": "available", "reason": "correction", "quantities": quantities,
                           "referenceDocumentUri": f"cj-bridge://stock-sync/store/{store_id}/{digest[:16]}"},
                 # Unique per call: a later write of the same figures (the store moved back meanwhile) is a new
                 # request, which a key made of the input alone would have Shopify answer from its memory
                 # without applying. A retried call is safe without the key: its changeFromQuantity is stale.
                 "key": f"cj-bridge-stock-{store_id}-{digest[:16]}-{uuid.uuid4().hex}"}
    payload = graphql(SET_QUANTITIES_MUTATION, variables, "inventorySetQuantities").get("inventorySetQuantities") or {}
    stale, refused, other = set(), {}, []
    for error in payload.get("userErrors") or []:
        index = _quantity_index(error.get("field"))
        if error.get("code") in ("CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE") and index is not None:
            stale.add(index)
        elif index is not None and 0 <= index < len(writes):
            refused[index] = (f"Shopify refused the quantity ({error.get('code')}: {error.get('message')}). "
                              "Resolution: check the variant's inventory in Shopify admin, then resync the store.")
        else:
            other.append(f"{error.get('code')}: {error.get('message')}")
    if other:  # about the whole call (scope, input): nothing of this batch was applied
        raise NeedsHuman("stock_write_refused", f"Shopify inventorySetQuantities refused: {'; '.join(other)}. "
                         "Resolution: check the app's write_inventory scope and the variants' inventory in Shopify "
                         "admin, then resync the store's stock (POST /admin/stores/<id>/stock/resync).")
    out = stale | set(refused)
    if not out or len(out) == len(writes):
        return stale, refused
    # One item refused fails the whole mutation: the others are written again, with the same figures read.
    kept = [i for i in range(len(writes)) if i not in out]
    more_stale, more_refused = _write(graphql, store_id=store_id, writes=[writes[i] for i in kept])
    return stale | {kept[i] for i in more_stale}, {**refused, **{kept[i]: why for i, why in more_refused.items()}}


def _quantity_index(path) -> int | None:
    """["input", "quantities", "3", "changeFromQuantity"] → 3."""
    try:
        position = list(path).index("quantities")
        return int(path[position + 1])
    except (TypeError, ValueError, IndexError):
        return None
