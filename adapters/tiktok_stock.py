"""TikTok Shop stock (and rule price) writes: Inventory Search, then Update Inventory per product.

A mapping names a TikTok SKU by its id (an order line's sku_id, the mapping's store_variant_id). Inventory
Search answers each SKU's product and its stock per warehouse; the quantity is written at the store's
stock_location_id (a TikTok warehouse id), or at the only warehouse the SKU is stocked at. TikTok has no
compare-and-swap: the figure is read just before the write and only a figure that differs is sent. Prices
(only with a pricing rule) are read with Get Product and sent with Update Price, per product.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Callable

from adapters.base import StockResult, StockTarget, optional_int
from service.jobs.outcomes import NeedsHuman
from service.money import to_cents

# Refusals about the whole shop (its authorization), not one product: the run stops there.
ACCOUNT_REASONS = ("store_auth_failed", "store_credentials_missing")

SEARCH_BATCH = 100  # Inventory Search takes up to 600 SKU ids; 100 keeps one answer small
MAX_QUANTITY = 99_998  # TikTok: "non-negative, and less than 99999"

# (method, path, operation, params=None, json_body=None, raw=False) → the answer's data (raw: the whole answer)
Api = Callable[..., dict]


def set_stock(api: Api, *, targets: list[StockTarget], location_id: str | None) -> list[StockResult]:
    results: dict[int, StockResult] = {}
    listed = _search(api, [t.store_variant_id for t in targets if _sku_id(t)])
    by_product: dict[str, list[tuple[StockTarget, dict]]] = {}
    for target in targets:
        sku = listed.get(_sku_id(target) or "")
        if sku is None:
            results[target.mapping_id] = StockResult(
                target.mapping_id, "skipped", None, "TikTok Shop lists no SKU with this mapping's store_variant_id. "
                "Resolution: set store_variant_id to the TikTok SKU id (an order line's sku_id) with "
                "PUT /admin/sku-mappings, then resync the store.")
            continue
        by_product.setdefault(sku["product_id"], []).append((target, sku))
    stopped = None
    for product_id, members in by_product.items():
        if stopped is None:
            try:
                _write_product(api, product_id=product_id, members=members, location_id=location_id,
                               results=results)
                continue
            except NeedsHuman as exc:
                # One product refused (deleted, frozen, a scope) costs only its own SKUs; a refusal of the shop
                # stops the run, and what was written before it stays recorded as written.
                if exc.reason in ACCOUNT_REASONS:
                    stopped = str(exc)
                reason = str(exc)
        else:
            reason = stopped
        for target, _sku in members:
            if target.mapping_id not in results:  # decided before the refusal: that result stands
                results[target.mapping_id] = StockResult(target.mapping_id, "skipped", None, reason,
                                                         {"product_id": product_id})
    return [results[t.mapping_id] for t in targets]


def _sku_id(target: StockTarget) -> str | None:
    value = (target.store_variant_id or "").strip()
    return value if value.isdigit() else None


def _search(api: Api, sku_ids: list[str]) -> dict[str, dict]:
    """sku id → {product_id, warehouses: {warehouse id: available quantity}}."""
    found: dict[str, dict] = {}
    unique = sorted(set(sku_ids))
    for start in range(0, len(unique), SEARCH_BATCH):
        data = api("POST", "/product/202309/inventory/search", "inventorySearch",
                   json_body={"sku_ids": unique[start:start + SEARCH_BATCH]})
        for product in data.get("inventory") or []:
            if not isinstance(product, dict) or not product.get("product_id"):
                continue
            for sku in product.get("skus") or []:
                if not isinstance(sku, dict) or not sku.get("id"):
                    continue
                warehouses = {str(w["warehouse_id"]): optional_int(w.get("available_quantity"))
                              for w in sku.get("warehouse_inventory") or []
                              if isinstance(w, dict) and w.get("warehouse_id")}
                found[str(sku["id"])] = {"product_id": str(product["product_id"]), "warehouses": warehouses}
    return found


def _write_product(api: Api, *, product_id: str, members: list[tuple[StockTarget, dict]], location_id: str | None,
                   results: dict) -> None:
    updates, writing = [], []
    for target, sku in members:
        ref = {"product_id": product_id}
        if target.quantity is None:
            results[target.mapping_id] = StockResult(target.mapping_id, "unchanged", None, "", ref)
            continue
        warehouses = sku["warehouses"]
        warehouse = location_id if location_id else (next(iter(warehouses)) if len(warehouses) == 1 else None)
        if warehouse is None or warehouse not in warehouses:
            where = (f"is not stocked at warehouse {location_id}" if location_id else
                     f"is stocked at {len(warehouses)} warehouses" if warehouses else "has no warehouse")
            results[target.mapping_id] = StockResult(
                target.mapping_id, "skipped", None, f"This TikTok Shop SKU {where}, so the warehouse to write is "
                "not known. Resolution: PATCH /admin/stores/<id> with stock_location_id set to the TikTok "
                "warehouse id the SKU ships from, then resync the store.", ref)
            continue
        ref["warehouse_id"] = warehouse
        figure, quantity = warehouses[warehouse], min(target.quantity, MAX_QUANTITY)
        if figure == quantity:
            results[target.mapping_id] = StockResult(target.mapping_id, "unchanged", figure, "", ref)
            continue
        updates.append({"id": _sku_id(target), "inventory": [{"warehouse_id": warehouse, "quantity": quantity}]})
        writing.append((target, figure, quantity, ref))
    if updates:
        answer = api("POST", f"/product/202309/products/{product_id}/inventory/update", "updateInventory",
                     json_body={"skus": updates}, raw=True)
        refused = _refused_skus(answer, "updateInventory")
        for target, figure, quantity, ref in writing:
            reason = refused.get(_sku_id(target))
            if reason:
                results[target.mapping_id] = StockResult(
                    target.mapping_id, "skipped", figure, f"TikTok Shop refused the stock of SKU "
                    f"{_sku_id(target)} ({reason}). Resolution: check the product in Seller Center (only a live "
                    "SKU's stock can be set), then resync the store.", ref)
            else:
                results[target.mapping_id] = StockResult(target.mapping_id, "written", quantity,
                                                         f"{figure} → {quantity}", ref)
    priced = [target for target, _sku in members if target.price is not None]
    if priced:
        _write_prices(api, product_id=product_id, targets=priced, results=results)


def _refused_skus(answer: dict, operation: str) -> dict[str, str]:
    """sku id → TikTok's reason for the SKUs it refused. A refusal that names no SKU is about the call (a scope,
    the product itself): NeedsHuman, for the product's SKUs."""
    data = answer.get("data") or {}
    refused = {}
    for error in data.get("errors") or [] if isinstance(data, dict) else []:
        if not isinstance(error, dict):
            continue
        sku_id = str((error.get("detail") or {}).get("sku_id") or "")
        refused[sku_id or "*"] = f"code {error.get('code')}"
    if answer.get("code") != 0 and (not refused or set(refused) == {"*"}):
        raise NeedsHuman("store_api_refused", f"TikTok Shop refused {operation} (code {answer.get('code')}). "
                         "Resolution: check that the app has the product scopes and that the product is live in "
                         "Seller Center, then resync the store.")
    return refused


def _write_prices(api: Api, *, product_id: str, targets: list[StockTarget], results: dict) -> None:
    answer = api("GET", f"/product/202309/products/{product_id}", "getProduct", raw=True)
    if answer.get("code") != 0:
        for target in targets:
            results[target.mapping_id].price_error = (
                f"TikTok Shop answered code {answer.get('code')} to getProduct. Resolution: check the product in "
                "Seller Center, then resync the store.")
        return
    shown: dict[str, tuple[Decimal | None, str | None]] = {}
    for sku in (answer.get("data") or {}).get("skus") or []:
        if isinstance(sku, dict) and sku.get("id"):
            price = sku.get("price") or {}
            # The price the buyer sees (VAT included where the market shows it so), as the rule's price is.
            amount = price.get("sale_price") or price.get("tax_exclusive_price")
            shown[str(sku["id"])] = (to_cents(amount), price.get("currency"))
    sending = []
    for target in targets:
        current, currency = shown.get(_sku_id(target), (None, None))
        result = results[target.mapping_id]
        result.store_price = current
        if current == target.price:
            continue
        if not currency:
            result.price_error = ("TikTok Shop shows no price for this SKU. Resolution: check the product in "
                                  "Seller Center, then resync the store.")
        elif target.currency and currency != target.currency:
            result.price_error = (f"TikTok Shop sells this SKU in {currency}, the pricing rule is in "
                                  f"{target.currency}. Resolution: set the rule's currency to {currency} "
                                  "(PATCH /admin/stores/<id>).")
        else:
            sending.append((target, currency))
    if not sending:
        return
    answer = api("POST", f"/product/202309/products/{product_id}/prices/update", "updatePrice", raw=True,
                 json_body={"skus": [{"id": _sku_id(t), "price": {"amount": str(t.price), "currency": currency}}
                                     for t, currency in sending]})
    try:
        refused = _refused_skus(answer, "updatePrice")
    except NeedsHuman as exc:
        refused = {_sku_id(t): str(exc) for t, _c in sending}
    for target, _currency in sending:
        reason = refused.get(_sku_id(target))
        result = results[target.mapping_id]
        if reason:
            result.price_error = (f"TikTok Shop refused the price {target.price} ({reason}). Resolution: check the "
                                  "pricing rule against TikTok's price limits for the market, then resync the store.")
        else:
            result.store_price = target.price
