"""Admin API: stores (register, list, change, queue webhook registration, resync stock)."""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import request
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from adapters import get_adapter
from service.outbound_http import url_problem
from service.pipeline import pricing_rule, stock_sync, store_tokens
from service.pipeline import store_stock_writes as stock_writes
from service.pipeline.polling import webhook_health
from service.pipeline.store_setup import NotRegistrable, queue_webhook_registration
from service.storage.models import SkuMapping, Store
from service.timeutil import iso, utcnow
from service.web.admin import bp
from service.web.admin.inputs import get_or_404, json_body, load
from service.web.admin.schemas import StoreCreateSchema, StoreUpdateSchema
from service.web.context import db_session, runtime, settings
from service.web.json_api import ApiError, ok

# How long a rotated-out webhook secret is still accepted: long enough for the platform's changeover.
ROTATION_GRACE = timedelta(days=7)


def store_view(store: Store) -> dict:
    creds = runtime().box.open_json(store.credentials_enc)
    return {"id": store.id, "platform": store.platform, "domain": store.domain, "name": store.name,
            "active": store.active, "api_base_url": store.api_base_url,
            "api_credentials_set": sorted(k for k in creds if k not in store_tokens.INTERNAL_KEYS),
            "has_previous_webhook_secret": store.previous_webhook_secret_enc is not None,
            "previous_webhook_secret_until": iso(store.previous_webhook_secret_until),
            "webhook_url": _webhook_url(store.platform),
            "adapter_state": store.adapter_state or {},
            "webhook_health": {k: iso(v) if hasattr(v, "isoformat") else v
                               for k, v in webhook_health(store).items()},
            "stock": {"buffer": store.stock_buffer, "location_id": store.stock_location_id,
                      "written": getattr(get_adapter(store.platform), "can_set_stock", False)},
            "pricing_rule": store.pricing_rule,
            "uninstalled_at": iso(store.uninstalled_at), "created_at": iso(store.created_at)}


def _derived_webhook_secret(adapter, credentials: dict) -> str | None:
    """A platform whose webhook signature is made from the API credentials (TikTok Shop's app key and secret)."""
    derive = getattr(adapter, "webhook_secret_from", None)
    return derive(credentials) if derive else None


def _webhook_url(platform: str) -> str:
    base = settings().public_base_url or request.host_url.rstrip("/")
    return f"{base}/webhooks/{platform}"


def _check_addresses(site: str | None, api_base_url: str | None) -> None:
    """In production the worker calls these addresses with the store's credentials: https, public only.

    (Development allows anything, so that local test doubles can stand in for a store.)
    """
    if not settings().production:
        return
    for field, url in (("site_url", site), ("api_base_url", api_base_url)):
        problem = url_problem(url) if url else None
        if problem:
            raise ApiError(400, "validation_error", f"{field} {problem}", {field: [problem]})


@bp.post("/stores")
def create_store():
    data = load(StoreCreateSchema(), json_body())
    adapter = get_adapter(data["platform"])
    try:
        domain = adapter.normalize_domain(data.get("shop_domain") or data.get("site_url"))
    except ValueError as exc:
        field = "shop_domain" if data.get("shop_domain") else "site_url"
        raise ApiError(400, "validation_error", str(exc), {field: [str(exc)]}) from None
    # A platform-owned domain (<shop>.myshopify.com) is trusted as it is; a merchant's own site is checked.
    _check_addresses(None if adapter.domain_is_platform_host else f"https://{domain}", data.get("api_base_url"))
    box = runtime().box
    derived = _derived_webhook_secret(adapter, data.get("api_credentials") or {})
    if derived and not data.get("webhook_secret"):
        data["webhook_secret"] = derived  # TikTok Shop: made from the app key and secret
    # No secret given (WooCommerce): a long alphanumeric one, which WooCommerce never mangles.
    generated = None if data.get("webhook_secret") else secrets.token_urlsafe(40).replace("-", "").replace("_", "")
    session = db_session()
    try:
        store = Store(platform=data["platform"], domain=domain, name=data.get("name"),
                      webhook_secret_enc=box.seal(data.get("webhook_secret") or generated),
                      previous_webhook_secret_enc=box.seal(data.get("previous_webhook_secret")),
                      previous_webhook_secret_until=utcnow() + ROTATION_GRACE
                      if data.get("previous_webhook_secret") else None,
                      credentials_enc=box.seal_json(data.get("api_credentials") or {}),
                      api_base_url=(data.get("api_base_url") or "").rstrip("/") or None, active=True)
        session.add(store)
        try:
            session.commit()
            runtime().stores.forget(store.platform, store.domain)
        except IntegrityError:
            session.rollback()
            existing = session.scalar(select(Store.id).where(Store.platform == data["platform"],
                                                             Store.domain == domain))
            raise ApiError(409, "store_exists", f"a {data['platform']} store {domain} is already registered "
                           f"(id {existing}); use PATCH /admin/stores/{existing} to change it",
                           {"store_id": existing}) from None
        body = store_view(store)
        if generated:
            body["webhook_secret"] = generated  # shown this once, for setting up the webhooks by hand
        return ok(body, 201)
    finally:
        session.close()


@bp.get("/stores")
def list_stores():
    session = db_session()
    try:
        return ok([store_view(s) for s in session.scalars(select(Store).order_by(Store.id))])
    finally:
        session.close()


@bp.get("/stores/<int:store_id>")
def get_store(store_id: int):
    session = db_session()
    try:
        return ok(store_view(get_or_404(session, Store, store_id)))
    finally:
        session.close()


@bp.patch("/stores/<int:store_id>")
def update_store(store_id: int):
    data = load(StoreUpdateSchema(), json_body())
    box = runtime().box
    session = db_session()
    try:
        store = get_or_404(session, Store, store_id)
        if "webhook_secret" in data:
            # Rotation: unless told otherwise, the old secret keeps working for ROTATION_GRACE, then expires.
            if "previous_webhook_secret" not in data:
                store.previous_webhook_secret_enc = store.webhook_secret_enc
                store.previous_webhook_secret_until = utcnow() + ROTATION_GRACE
            store.webhook_secret_enc = box.seal(data["webhook_secret"])
        if "previous_webhook_secret" in data:
            store.previous_webhook_secret_enc = box.seal(data["previous_webhook_secret"])
            store.previous_webhook_secret_until = utcnow() + ROTATION_GRACE if data["previous_webhook_secret"] else None
        if "api_credentials" in data:
            store.credentials_enc = box.seal_json(data["api_credentials"])
            derived = _derived_webhook_secret(get_adapter(store.platform), data["api_credentials"])
            if derived and "webhook_secret" not in data:
                store.webhook_secret_enc = box.seal(derived)  # new app keys sign its webhooks from now on
        if "api_base_url" in data:
            _check_addresses(None, data["api_base_url"])
            store.api_base_url = (data["api_base_url"] or "").rstrip("/") or None
        if "name" in data:
            store.name = data["name"]
        stock_changed = ("stock_buffer" in data and data["stock_buffer"] != store.stock_buffer) or (
            "stock_location_id" in data and data["stock_location_id"] != store.stock_location_id)
        if "stock_buffer" in data:
            store.stock_buffer = data["stock_buffer"]
        if "stock_location_id" in data:
            store.stock_location_id = data["stock_location_id"]
        if stock_changed and settings().stock_sync != "off":
            session.flush()  # a new buffer or location: every mapping of the store is decided again
            stock_sync.request_stock_reads(session, why="resync", store_id=store.id)
        if "pricing_rule" in data:
            rule = data["pricing_rule"]
            store.pricing_rule = {k: str(v) for k, v in rule.items()} if rule else None  # decimal strings
            session.flush()
            if store.pricing_rule:
                stock_writes.enqueue_store_writes(session, store_ids=pricing_rule.decide_prices(
                    session, store_id=store.id))
            else:  # off: the prices stay as they are in the store
                session.execute(update(SkuMapping).where(SkuMapping.store_id == store.id).values(want_price=None))
        if "active" in data:
            store.active = data["active"]
            if data["active"]:
                store.uninstalled_at = None
                store.activated_at = utcnow()
        session.commit()
        runtime().stores.forget(store.platform, store.domain)
        return ok(store_view(store))
    finally:
        session.close()


@bp.post("/stores/<int:store_id>/webhooks")
def register_webhooks(store_id: int):
    """Queue creating the store's order webhooks through its API (the worker makes the calls)."""
    session = db_session()
    try:
        store = get_or_404(session, Store, store_id)
        try:
            job = queue_webhook_registration(session, store=store, public_base_url=settings().public_base_url)
        except NotRegistrable as exc:
            raise ApiError(409, exc.code, exc.message) from None
        session.commit()
        runtime().notifier.jobs_committed()
        return ok({"job_id": job.id, "status": "queued",
                   "result_at": f"/admin/stores/{store.id} (adapter_state.webhook_registration)"}, 202)
    finally:
        session.close()


@bp.post("/stores/<int:store_id>/stock/resync")
def resync_stock(store_id: int):
    """Read CJ's stock of every mapped variant of the store again and write each quantity the store should show."""
    session = db_session()
    try:
        store = get_or_404(session, Store, store_id)
        if settings().stock_sync == "off":
            raise ApiError(409, "stock_sync_off", "STOCK_SYNC is off: turn it on (or to dry_run) first")
        marked = stock_sync.request_stock_reads(session, why="resync", store_id=store.id)
        session.commit()
        runtime().notifier.jobs_committed()
        return ok({"store_id": store.id, "mappings_marked": marked, "points_needed":
                   stock_sync.POINTS_PER_READ * _distinct_vids(session, store.id),
                   # Reads stop at the reserve kept for orders and go on after CJ's daily reset (00:00 UTC).
                   "points_for_stock_today": max(0, stock_sync.points_above_reserve(session, runtime=runtime())),
                   "progress": f"/admin/sku-mappings?store_id={store.id} (cj_stock_at, store_quantity_at)"}, 202)
    finally:
        session.close()


def _distinct_vids(session, store_id: int) -> int:
    return session.scalar(select(func.count(func.distinct(SkuMapping.cj_vid))).where(
        SkuMapping.store_id == store_id, SkuMapping.self_stocked.is_(False))) or 0
