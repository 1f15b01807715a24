"""Admin API under /admin/ (Bearer ADMIN_TOKEN, JSON only): stores, orders, mappings, rules, jobs."""
from __future__ import annotations

import hmac
import secrets

from flask import Blueprint, current_app, request
from marshmallow import Schema, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from adapters import get_adapter
from service.admin_schemas import (ShippingRuleSchema, SkuMappingKeySchema, SkuMappingSchema, StoreCreateSchema,
                                   StoreUpdateSchema)
from service.api_errors import ApiError, ok, parse_json
from service.job_queue import retry_dead
from service.models import ExternalCall, Job, Order, ShippingRule, SkuMapping, Store, WebhookEvent
from service.job_queue import enqueue
from service.pipeline.order_state import STATES
from service.pipeline.polling import webhook_health
from service.pipeline.resume import NotRetryable, resume_held, retry_order
from service.timeutil import iso

bp = Blueprint("admin", __name__, url_prefix="/admin")
MAX_PAGE = 200


@bp.before_request
def _require_token():
    expected = current_app.config["SETTINGS"].admin_token
    header = request.headers.get("Authorization", "")
    presented = header[7:].strip() if header.startswith("Bearer ") else ""
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <ADMIN_TOKEN>")


def _session():
    return current_app.extensions["cj_bridge"].session_factory()


def _runtime():
    return current_app.extensions["cj_bridge"]


def _json_body():
    try:
        return parse_json(request.get_data())
    except ApiError:
        raise ApiError(400, "invalid_json", "the body must be valid JSON") from None


def _load(schema: Schema, data):
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ApiError(400, "validation_error", "the request has invalid fields", exc.messages) from None


def _int_arg(name: str, default: int | None = None, maximum: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "validation_error", f"query parameter {name} must be an integer") from None
    if value < 0:
        raise ApiError(400, "validation_error", f"query parameter {name} must not be negative")
    return min(value, maximum) if maximum else value


# -- stores ----------------------------------------------------------------------------------
def _store_json(store: Store) -> dict:
    creds = _runtime().box.open_json(store.credentials_enc)
    return {"id": store.id, "platform": store.platform, "domain": store.domain, "name": store.name,
            "active": store.active, "api_base_url": store.api_base_url,
            "api_credentials_set": sorted(creds.keys()),
            "has_previous_webhook_secret": store.previous_webhook_secret_enc is not None,
            "webhook_url": _webhook_url(store.platform),
            "adapter_state": store.adapter_state or {},
            "webhook_health": {k: iso(v) if hasattr(v, "isoformat") else v
                               for k, v in webhook_health(store).items()},
            "uninstalled_at": iso(store.uninstalled_at), "created_at": iso(store.created_at)}


def _webhook_url(platform: str) -> str:
    base = current_app.config["SETTINGS"].public_base_url or request.host_url.rstrip("/")
    return f"{base}/webhooks/{platform}"


@bp.post("/stores")
def create_store():
    data = _load(StoreCreateSchema(), _json_body())
    adapter = get_adapter(data["platform"])
    try:
        domain = adapter.normalize_domain(data.get("shop_domain") or data.get("site_url"))
    except ValueError as exc:
        raise ApiError(400, "validation_error", str(exc), {"site_url": [str(exc)]}) from None
    box = _runtime().box
    # No secret given (WooCommerce): a long alphanumeric one, which WooCommerce never mangles.
    generated = None if data.get("webhook_secret") else secrets.token_urlsafe(40).replace("-", "").replace("_", "")
    session = _session()
    try:
        store = Store(platform=data["platform"], domain=domain, name=data.get("name"),
                      webhook_secret_enc=box.seal(data.get("webhook_secret") or generated),
                      previous_webhook_secret_enc=box.seal(data.get("previous_webhook_secret")),
                      credentials_enc=box.seal_json(data.get("api_credentials") or {}),
                      api_base_url=(data.get("api_base_url") or "").rstrip("/") or None, active=True)
        session.add(store)
        try:
            session.commit()
            _runtime().stores.forget(store.platform, store.domain)
        except IntegrityError:
            session.rollback()
            raise ApiError(409, "store_exists", f"a {data['platform']} store {domain} is already registered; "
                           "use PATCH /admin/stores/<id> to change it") from None
        body = _store_json(store)
        if generated:
            body["webhook_secret"] = generated  # shown this once, for setting up the webhooks by hand
        return ok(body, 201)
    finally:
        session.close()


@bp.get("/stores")
def list_stores():
    session = _session()
    try:
        return ok([_store_json(s) for s in session.scalars(select(Store).order_by(Store.id))])
    finally:
        session.close()


@bp.get("/stores/<int:store_id>")
def get_store(store_id: int):
    session = _session()
    try:
        return ok(_store_json(_get_or_404(session, Store, store_id)))
    finally:
        session.close()


@bp.patch("/stores/<int:store_id>")
def update_store(store_id: int):
    data = _load(StoreUpdateSchema(), _json_body())
    box = _runtime().box
    session = _session()
    try:
        store = _get_or_404(session, Store, store_id)
        if "webhook_secret" in data:
            # Rotation: unless told otherwise, the old secret keeps working until the next change.
            if "previous_webhook_secret" not in data:
                store.previous_webhook_secret_enc = store.webhook_secret_enc
            store.webhook_secret_enc = box.seal(data["webhook_secret"])
        if "previous_webhook_secret" in data:
            store.previous_webhook_secret_enc = box.seal(data["previous_webhook_secret"])
        if "api_credentials" in data:
            store.credentials_enc = box.seal_json(data["api_credentials"])
        if "api_base_url" in data:
            store.api_base_url = (data["api_base_url"] or "").rstrip("/") or None
        if "name" in data:
            store.name = data["name"]
        if "active" in data:
            store.active = data["active"]
            if data["active"]:
                store.uninstalled_at = None
        session.commit()
        _runtime().stores.forget(store.platform, store.domain)
        return ok(_store_json(store))
    finally:
        session.close()


@bp.post("/stores/<int:store_id>/webhooks")
def register_webhooks(store_id: int):
    """Queue creating the store's order webhooks through its API (the worker makes the calls)."""
    session = _session()
    try:
        store = _get_or_404(session, Store, store_id)
        if not get_adapter(store.platform).can_register_webhooks:
            raise ApiError(409, "not_supported", f"{store.platform} webhooks cannot be created from here; "
                           "see the README's section on that platform")
        if not current_app.config["SETTINGS"].public_base_url:
            raise ApiError(409, "public_url_missing", "set PUBLIC_BASE_URL to this service's public https:// "
                           "address first: it is where the store will send its webhooks")
        job = enqueue(session, kind="register_webhooks", payload={"store_id": store.id},
                      dedupe_key=f"register_webhooks:{store.id}")
        session.commit()
        _runtime().notifier.jobs_committed()
        return ok({"job_id": job.id, "status": "queued",
                   "result_at": f"/admin/stores/{store.id} (adapter_state.webhook_registration)"}, 202)
    finally:
        session.close()


# -- orders ----------------------------------------------------------------------------------
def _order_summary(order: Order) -> dict:
    return {"id": order.id, "store_id": order.store_id, "platform_order_id": order.platform_order_id,
            "name": order.name, "state": order.state, "hold_reason": order.hold_reason,
            "hold_detail": order.hold_detail, "cj_order_number": order.cj_order_number,
            "cj_order_id": order.cj_order_id, "cj_status": order.cj_status,
            "cj_logistic_name": order.cj_logistic_name,
            "total_price": str(order.total_price) if order.total_price is not None else None,
            "currency": order.currency, "updated_at": iso(order.updated_at), "created_at": iso(order.created_at)}


@bp.get("/orders")
def list_orders():
    state = request.args.get("state")
    if state and state not in STATES:
        raise ApiError(400, "validation_error", f"state must be one of {', '.join(STATES)}")
    limit = _int_arg("limit", 50, MAX_PAGE)
    before_id = _int_arg("before_id")
    store_id = _int_arg("store_id")
    session = _session()
    try:
        stmt = select(Order).order_by(Order.id.desc()).limit(limit)
        if state:
            stmt = stmt.where(Order.state == state)
        if store_id is not None:
            stmt = stmt.where(Order.store_id == store_id)
        if before_id:
            stmt = stmt.where(Order.id < before_id)
        orders = session.scalars(stmt).all()
        return ok({"orders": [_order_summary(o) for o in orders],
                   "next_before_id": orders[-1].id if len(orders) == limit else None})
    finally:
        session.close()


@bp.get("/orders/<int:order_id>")
def get_order(order_id: int):
    session = _session()
    try:
        order = _get_or_404(session, Order, order_id)
        calls = session.scalars(select(ExternalCall).where(ExternalCall.order_id == order.id)
                                .order_by(ExternalCall.id)).all()
        data = _order_summary(order)
        data.update({
            "canonical": order.canonical,
            "history": [{"at": iso(t.at), "from": t.from_state, "to": t.to_state, "reason": t.reason,
                         "detail": t.detail} for t in order.transitions],
            "cj_calls": [_call_json(c) for c in calls if c.service == "cj"],
            "write_back": [_call_json(c) for c in calls if c.service != "cj"],
            "shipments": [{"tracking_number": s.tracking_number, "carrier": s.carrier, "url": s.tracking_url,
                           "status": s.status, "store_fulfillment_id": s.store_fulfillment_id,
                           "written_at": iso(s.written_at), "last_error": s.last_error} for s in order.shipments],
            "dry_run_request": next((c.request for c in reversed(calls)
                                     if c.operation == "createOrderV2" and c.outcome == "dry_run"), None),
        })
        return ok(data)
    finally:
        session.close()


def _call_json(call: ExternalCall) -> dict:
    return {"at": iso(call.at), "service": call.service, "operation": call.operation, "outcome": call.outcome,
            "request": call.request, "response": call.response}


@bp.post("/orders/<int:order_id>/retry")
def retry_order_route(order_id: int):
    session = _session()
    try:
        order = _get_or_404(session, Order, order_id)
        try:
            kind = retry_order(session, order=order)
        except NotRetryable as exc:
            raise ApiError(409, "not_retryable", str(exc)) from None
        session.commit()
        _runtime().notifier.jobs_committed()
        return ok({"order_id": order.id, "queued": kind}, 202)
    finally:
        session.close()


# -- SKU mappings ------------------------------------------------------------------------------
def _mapping_json(m: SkuMapping) -> dict:
    return {"id": m.id, "store_id": m.store_id, "store_sku": m.store_sku, "store_variant_id": m.store_variant_id,
            "cj_vid": m.cj_vid, "cj_sku": m.cj_sku, "source": m.source, "updated_at": iso(m.updated_at)}


@bp.get("/sku-mappings")
def list_mappings():
    store_id = _int_arg("store_id")
    limit = _int_arg("limit", 100, 1000)
    offset = _int_arg("offset", 0)
    session = _session()
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
    body = _json_body()
    items = body if isinstance(body, list) else [body]
    if not items or len(items) > 1000:
        raise ApiError(400, "validation_error", "send one mapping object or a list of 1 to 1000")
    rows = [_load(SkuMappingSchema(), item) for item in items]
    session = _session()
    try:
        saved, stores = [], set()
        for row in rows:
            if session.get(Store, row["store_id"]) is None:
                raise ApiError(404, "store_not_found", f"no store with id {row['store_id']}")
            mapping = _find_mapping(session, row)
            if mapping is None:
                mapping = SkuMapping(store_id=row["store_id"], source="admin")
                session.add(mapping)
            mapping.store_sku = row.get("store_sku") or mapping.store_sku
            mapping.store_variant_id = row.get("store_variant_id") or mapping.store_variant_id
            mapping.cj_vid = row["cj_vid"]
            mapping.cj_sku = row.get("cj_sku")
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                raise ApiError(409, "mapping_conflict", "this store_sku and store_variant_id belong to two "
                               "different existing mappings; delete one first", row) from None
            saved.append(mapping)
            stores.add(row["store_id"])
        resumed = sum(resume_held(session, reason="needs_mapping", store_id=s) for s in stores)
        session.commit()
        _runtime().notifier.jobs_committed()
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
    row = _load(SkuMappingKeySchema(), _json_body() if request.data else dict(request.args))
    session = _session()
    try:
        mapping = _find_mapping(session, row)
        if mapping is None:
            raise ApiError(404, "mapping_not_found", "no mapping matches", row)
        session.delete(mapping)
        session.commit()
        return ok({"deleted": mapping.id})
    finally:
        session.close()


# -- shipping rules ---------------------------------------------------------------------------------
def _rule_json(r: ShippingRule) -> dict:
    return {"country_code": r.country_code, "logistic_names": r.logistic_names,
            "max_shipping_cost": str(r.max_shipping_cost) if r.max_shipping_cost is not None else None,
            "updated_at": iso(r.updated_at)}


@bp.get("/shipping-rules")
def list_rules():
    session = _session()
    try:
        return ok([_rule_json(r) for r in session.scalars(select(ShippingRule).order_by(ShippingRule.country_code))])
    finally:
        session.close()


@bp.put("/shipping-rules")
def put_rules():
    """Upsert one rule or a list ('*' is the default); held needs_shipping_rule orders resume."""
    body = _json_body()
    items = body if isinstance(body, list) else [body]
    if not items or len(items) > 300:
        raise ApiError(400, "validation_error", "send one rule object or a list of 1 to 300")
    rows = [_load(ShippingRuleSchema(), item) for item in items]
    session = _session()
    try:
        saved = []
        for row in rows:
            code = row["country_code"].upper()
            rule = session.get(ShippingRule, code) or ShippingRule(country_code=code)
            rule.logistic_names = [n.strip() for n in row["logistic_names"]]
            rule.max_shipping_cost = row.get("max_shipping_cost")
            session.add(rule)
            saved.append(rule)
        session.flush()
        resumed = resume_held(session, reason="needs_shipping_rule")
        session.commit()
        _runtime().notifier.jobs_committed()
        return ok({"rules": [_rule_json(r) for r in saved], "resumed_orders": resumed})
    finally:
        session.close()


@bp.delete("/shipping-rules/<country_code>")
def delete_rule(country_code: str):
    session = _session()
    try:
        res = session.execute(delete(ShippingRule).where(ShippingRule.country_code == country_code.upper()))
        if res.rowcount == 0:
            raise ApiError(404, "rule_not_found", f"no shipping rule for {country_code}")
        session.commit()
        return ok({"deleted": country_code.upper()})
    finally:
        session.close()


# -- jobs and events ---------------------------------------------------------------------------------
def _job_json(j: Job) -> dict:
    return {"id": j.id, "kind": j.kind, "payload": j.payload, "status": j.status, "attempts": j.attempts,
            "max_attempts": j.max_attempts, "run_at": iso(j.run_at), "last_error": j.last_error,
            "created_at": iso(j.created_at), "finished_at": iso(j.finished_at)}


@bp.get("/jobs")
def list_jobs():
    status = request.args.get("status")
    if status and status not in ("queued", "running", "done", "dead"):
        raise ApiError(400, "validation_error", "status must be queued, running, done or dead")
    limit = _int_arg("limit", 50, MAX_PAGE)
    session = _session()
    try:
        stmt = select(Job).order_by(Job.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(Job.status == status)
        return ok([_job_json(j) for j in session.scalars(stmt)])
    finally:
        session.close()


@bp.post("/jobs/<int:job_id>/retry")
def retry_job(job_id: int):
    session = _session()
    try:
        try:
            job = retry_dead(session, job_id)
        except ValueError as exc:
            raise ApiError(409, "not_dead", str(exc)) from None
        if job is None:
            raise ApiError(404, "job_not_found", f"no job with id {job_id}")
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise ApiError(409, "already_queued", "an equivalent job is already queued or running") from None
        _runtime().notifier.jobs_committed()
        return ok(_job_json(job), 202)
    finally:
        session.close()


@bp.get("/events")
def list_events():
    limit = _int_arg("limit", 50, MAX_PAGE)
    session = _session()
    try:
        events = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)).all()
        return ok([{"id": e.id, "source": e.source, "store_id": e.store_id, "topic": e.topic,
                    "delivery_id": e.delivery_id, "status": e.status, "note": e.note,
                    "received_at": iso(e.received_at), "processed_at": iso(e.processed_at)} for e in events])
    finally:
        session.close()


def _get_or_404(session, model, ident):
    obj = session.get(model, ident)
    if obj is None:
        raise ApiError(404, f"{model.__tablename__.rstrip('s')}_not_found", f"no {model.__name__} with id {ident}")
    return obj
