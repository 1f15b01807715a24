"""eBay stock (and rule price) writes through the Inventory API: read by SKU, then bulkUpdatePriceQuantity.

eBay's Inventory API keys stock by the seller's SKU (the mapping's store_sku) and holds only the listings made
through it (or migrated to it). A listing made in Seller Hub or with the Trading API has no inventory item,
and is skipped with a Resolution rather than written some other way. The quantity written is the item's
shipToLocationAvailability (what its published offers sell from). eBay has no compare-and-swap: the figure is
read just before the write, and only a figure that differs is sent. Prices (only with a pricing rule) are
the offers' prices, read with getOffers per SKU.
"""
from __future__ import annotations

from typing import Callable

from adapters.base import StockResult, StockTarget
from service.money import to_cents

BATCH = 25  # bulkGetInventoryItem and bulkUpdatePriceQuantity take 25 SKUs a call

# (method, path under /sell/inventory/v1, operation, params=None, json=None) → the answer's JSON object
Request = Callable[..., dict]

NOT_AN_INVENTORY_ITEM = (
    "eBay's Inventory API has no item with this SKU: the listing was made in Seller Hub or with the Trading API, "
    "whose quantities this service does not write. Resolution: migrate the listing to the Inventory API "
    "(bulkMigrateListing), or mark the mapping self_stocked and keep its quantity in eBay.")


def set_stock(request: Request, *, targets: list[StockTarget]) -> list[StockResult]:
    results: dict[int, StockResult] = {}
    keyed = []
    for target in targets:
        if not (target.store_sku or "").strip():
            results[target.mapping_id] = StockResult(
                target.mapping_id, "skipped", None, "eBay's Inventory API sets stock per seller SKU, and this "
                "mapping has none. Resolution: map the listing by store_sku (PUT /admin/sku-mappings), then resync "
                "the store.")
        else:
            keyed.append(target)
    for start in range(0, len(keyed), BATCH):
        _write_batch(request, keyed[start:start + BATCH], results)
    return [results[t.mapping_id] for t in targets]


def _write_batch(request: Request, targets: list[StockTarget], results: dict) -> None:
    answer = request("POST", "/bulk_get_inventory_item", "bulkGetInventoryItem",
                     json={"requests": [{"sku": t.store_sku} for t in targets]})
    items = {}
    for entry in answer.get("responses") or []:
        if isinstance(entry, dict) and entry.get("sku") is not None and entry.get("statusCode") == 200:
            items[str(entry["sku"])] = entry.get("inventoryItem") or {}
    updates, writing = [], []
    for target in targets:
        item = items.get(target.store_sku)
        if item is None:
            results[target.mapping_id] = StockResult(target.mapping_id, "skipped", None, NOT_AN_INVENTORY_ITEM)
            continue
        figure = _int(((item.get("availability") or {}).get("shipToLocationAvailability") or {}).get("quantity"))
        result = StockResult(target.mapping_id, "unchanged", figure, "", {"sku": target.store_sku})
        results[target.mapping_id] = result
        change: dict = {}
        if target.quantity is not None and figure != target.quantity:
            change["shipToLocationAvailability"] = {"quantity": target.quantity}
        if target.price is not None:
            offers = _offers(request, target.store_sku)
            shown = {o["offerId"]: o for o in offers}
            result.store_price = offers[0]["price"] if offers else None
            moved = [{"offerId": oid, "price": {"value": str(target.price), "currency": o["currency"]}}
                     for oid, o in shown.items() if o["price"] != target.price]
            if not offers:
                result.price_error = ("eBay lists no offer for this SKU, so it has no price to set. Resolution: "
                                      "publish the listing, then resync the store.")
            elif moved:
                change["offers"] = moved
        if change:
            updates.append(dict(change, sku=target.store_sku))
            writing.append((target, figure, change))
    if not updates:
        return
    answer = request("POST", "/bulk_update_price_quantity", "bulkUpdatePriceQuantity", json={"requests": updates})
    status: dict[str, list] = {}
    for entry in answer.get("responses") or []:
        if isinstance(entry, dict) and entry.get("sku") is not None:
            status.setdefault(str(entry["sku"]), []).append(entry)
    for target, figure, change in writing:
        entries = status.get(target.store_sku) or []
        failed = [e for e in entries if e.get("statusCode") != 200]
        result = results[target.mapping_id]
        if not entries or failed:
            codes = ", ".join(str(err.get("errorId")) for e in failed for err in e.get("errors") or []) or \
                "no answer for it"
            if "shipToLocationAvailability" in change:
                results[target.mapping_id] = StockResult(
                    target.mapping_id, "skipped", figure, f"eBay refused the update of SKU {target.store_sku} "
                    f"({codes}). Resolution: check the listing in Seller Hub, then resync the store.",
                    result.ref, store_price=result.store_price)
            else:
                result.price_error = (f"eBay refused the price {target.price} ({codes}). Resolution: check the "
                                      "listing in Seller Hub, then resync the store.")
            continue
        if "shipToLocationAvailability" in change:
            result.outcome, result.store_quantity = "written", target.quantity
            result.detail = f"{figure} → {target.quantity}"
        if "offers" in change:
            result.store_price = target.price


def _offers(request: Request, sku: str) -> list[dict]:
    answer = request("GET", "/offer", "getOffers", params={"sku": sku}, ok=(200, 404))
    offers = []
    for offer in answer.get("offers") or []:
        price = ((offer or {}).get("pricingSummary") or {}).get("price") or {}
        if offer.get("offerId") and price.get("currency"):
            offers.append({"offerId": str(offer["offerId"]), "price": to_cents(price.get("value")),
                           "currency": str(price["currency"])})
    return offers


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
