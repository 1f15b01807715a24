"""eBay stock (and rule price) writes through the Inventory API: read by SKU, then bulkUpdatePriceQuantity.

eBay's Inventory API keys stock by the seller's SKU (the mapping's store_sku) and holds only the listings made
through it (or migrated to it). A listing made in Seller Hub or with the Trading API has no inventory item,
and is skipped with a Resolution rather than written some other way. The quantity written is the item's
shipToLocationAvailability, and the availableQuantity of each published offer that sets its own (a listing
sells the lesser of the two). bulkUpdatePriceQuantity takes one SKU (with up to 25 of its offers) a call.
eBay has no compare-and-swap: the figure is read just before the write, and only a figure that differs is
sent. Prices (only with a pricing rule) go to the published offers in the rule's currency.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Callable

from adapters.base import StockResult, StockTarget, optional_int
from service.jobs.outcomes import NeedsHuman, RetryLater
from service.money import to_cents
from service.timeutil import iso, parse_iso_utc, utcnow

READ_BATCH = 25  # bulkGetInventoryItem takes 25 SKUs a call
# eBay allows about 250 revisions of a listing a day: one write every 7.2 minutes at most (200 a day) leaves the
# seller's own edits room. A change to 0 (sold out, delisted at CJ) never waits.
WRITE_SPACING = timedelta(minutes=7.2)
NOT_FOUND = {25702}  # "SKU could not be found"
ACCOUNT_REASONS = ("store_auth_failed", "store_credentials_missing", "store_scope_missing")

# (method, path under /sell/inventory/v1, operation, params=None, json=None, ok=...) → (HTTP status, JSON object)
Request = Callable[..., tuple]

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
    stopped = None
    for start in range(0, len(keyed), READ_BATCH):
        chunk = keyed[start:start + READ_BATCH]
        if stopped is None:
            try:
                items = _read_items(request, chunk, results)
            except NeedsHuman as exc:
                stopped = str(exc)
        for target in chunk:
            if target.mapping_id in results:
                continue
            if stopped is not None:
                results[target.mapping_id] = StockResult(target.mapping_id, "skipped", None, stopped)
                continue
            try:
                results[target.mapping_id] = _write_sku(request, target, items[target.store_sku])
            except NeedsHuman as exc:
                # One SKU refused costs only itself; a refusal of the seller's account stops the run, and what
                # was written before it stays recorded as written.
                if exc.reason in ACCOUNT_REASONS:
                    stopped = str(exc)
                results[target.mapping_id] = StockResult(target.mapping_id, "skipped", None, str(exc),
                                                         {"sku": target.store_sku})
    return [results[t.mapping_id] for t in targets]


def _read_items(request: Request, targets: list[StockTarget], results: dict) -> dict[str, dict]:
    _status, answer = request("POST", "/bulk_get_inventory_item", "bulkGetInventoryItem",
                              json={"requests": [{"sku": t.store_sku} for t in targets]})
    entries = {str(e["sku"]): e for e in answer.get("responses") or []
               if isinstance(e, dict) and e.get("sku") is not None}
    if any(int(e.get("statusCode") or 0) >= 500 for e in entries.values()):
        raise RetryLater("eBay bulkGetInventoryItem: an item answered a server error; read again")
    items = {}
    for target in targets:
        entry = entries.get(target.store_sku) or {}
        if entry.get("statusCode") == 200:
            items[target.store_sku] = entry.get("inventoryItem") or {}
            continue
        ids = _error_ids(entry)
        detail = NOT_AN_INVENTORY_ITEM if entry.get("statusCode") == 404 or ids & NOT_FOUND or not entry else (
            f"eBay refused to read SKU {target.store_sku} ({', '.join(map(str, sorted(ids))) or 'no error id'}). "
            "Resolution: check the listing in Seller Hub, then resync the store.")
        results[target.mapping_id] = StockResult(target.mapping_id, "skipped", None, detail)
    return items


def _write_sku(request: Request, target: StockTarget, item: dict) -> StockResult:
    figure = optional_int(((item.get("availability") or {}).get("shipToLocationAvailability") or {}).get("quantity"))
    ref = {"sku": target.store_sku, "offers": dict((target.ref or {}).get("offers") or {})}
    if (target.ref or {}).get("written_at"):
        ref["written_at"] = target.ref["written_at"]
    result = StockResult(target.mapping_id, "unchanged", figure, "", ref)
    offers = None
    if target.price is not None or "offers" not in (target.ref or {}):
        offers = _published_offers(request, target.store_sku)
        # offer id → whether it sets its own availableQuantity (then it is written with the item's figure)
        ref["offers"] = {o["offerId"]: o["availableQuantity"] is not None for o in offers}
    body: dict = {"sku": target.store_sku}
    sent_offers: dict[str, dict] = {}
    writes_quantity = target.quantity is not None and (
        figure != target.quantity or any(o["availableQuantity"] not in (None, target.quantity) for o in offers or []))
    if writes_quantity:
        body["shipToLocationAvailability"] = {"quantity": target.quantity}
        for offer_id, own in ref["offers"].items():
            if own:
                sent_offers.setdefault(offer_id, {"offerId": offer_id})["availableQuantity"] = target.quantity
    if target.price is not None:
        priced = [o for o in offers or [] if not target.currency or o["currency"] == target.currency]
        result.store_price = priced[0]["price"] if priced else None
        if not priced:
            result.price_error = (
                f"eBay has no published offer for this SKU in {target.currency or 'any currency'}. Resolution: "
                "publish the listing (or set the pricing rule's currency to the offer's), then resync the store.")
        for offer in priced:
            if offer["price"] != target.price:
                sent_offers.setdefault(offer["offerId"], {"offerId": offer["offerId"]})["price"] = {
                    "value": str(target.price), "currency": offer["currency"]}
    if sent_offers:
        body["offers"] = list(sent_offers.values())
    if len(body) == 1:
        return result
    last = parse_iso_utc(ref["written_at"]) if (target.ref or {}).get("written_at") else None
    if last is not None and utcnow() < last + WRITE_SPACING and target.quantity != 0:
        return StockResult(target.mapping_id, "deferred", figure, "eBay limits the revisions of a listing a day: "
                           "written again at " + iso(last + WRITE_SPACING), ref, retry_at=last + WRITE_SPACING)
    status, answer = request("POST", "/bulk_update_price_quantity", "bulkUpdatePriceQuantity",
                             json={"requests": [body]}, ok=(200, 207, 400))
    ref["written_at"] = iso(utcnow())  # a revision, whatever eBay answered item by item
    entries = [e for e in answer.get("responses") or [] if isinstance(e, dict)]
    failed = [e for e in entries if e.get("statusCode") != 200]
    if status == 400 and not entries:
        failed = [{"errors": answer.get("errors") or []}]
    item_failed = [e for e in failed if not e.get("offerId")]
    quantity_failed = item_failed or [e for e in failed if "availableQuantity" in sent_offers.get(
        str(e.get("offerId")), {})]
    if writes_quantity and quantity_failed:
        return StockResult(target.mapping_id, "skipped", figure, f"eBay refused the update of SKU "
                           f"{target.store_sku} ({_codes(quantity_failed)}). Resolution: check the listing in "
                           "Seller Hub, then resync the store.", ref, store_price=result.store_price,
                           price_error=result.price_error)
    if writes_quantity:
        result.outcome, result.store_quantity = "written", target.quantity
        result.detail = f"{figure} → {target.quantity}"
    price_failed = item_failed or [e for e in failed if "price" in sent_offers.get(str(e.get("offerId")), {})]
    if any("price" in o for o in sent_offers.values()):
        if price_failed:
            result.price_error = (f"eBay refused the price {target.price} ({_codes(price_failed)}). Resolution: "
                                  "check the listing in Seller Hub, then resync the store.")
        else:
            result.store_price = target.price
    return result


def _published_offers(request: Request, sku: str) -> list[dict]:
    status, answer = request("GET", "/offer", "getOffers", params={"sku": sku}, ok=(200, 404))
    offers = []
    for offer in answer.get("offers") or [] if status == 200 else []:
        price = ((offer or {}).get("pricingSummary") or {}).get("price") or {}
        # Only a published offer sells; bulkUpdatePriceQuantity is not for the others.
        if offer.get("offerId") and offer.get("status") == "PUBLISHED" and price.get("currency"):
            offers.append({"offerId": str(offer["offerId"]), "price": to_cents(price.get("value")),
                           "currency": str(price["currency"]),
                           "availableQuantity": optional_int(offer.get("availableQuantity"))})
    return offers


def _error_ids(entry: dict) -> set:
    return {e.get("errorId") for e in entry.get("errors") or [] if isinstance(e, dict) and e.get("errorId")}


def _codes(entries: list[dict]) -> str:
    return ", ".join(str(i) for e in entries for i in sorted(_error_ids(e))) or "no error id"
