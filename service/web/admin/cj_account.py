"""Admin API: the CJ account: its request and points budget, its webhook address and registration, variant lookup."""
from __future__ import annotations

from flask import request

from service.cj.webhook_address import callback_url
from service.jobs.queue import enqueue
from service.pipeline.cj_budget import budget_status
from service.pipeline.cj_product_subscriptions import subscription_status
from service.pipeline.cj_wallet import wallet_status
from service.pipeline.variant_lookup import LookupFailed, variants_by_sku
from service.storage.models import CjAccountState
from service.web.admin import bp
from service.web.context import db_session, runtime, settings
from service.web.json_api import ApiError, ok


@bp.get("/cj/webhook")
def cj_webhook_address():
    """Where CJ must send its webhooks (the path is secret: it keeps strangers out), and the last registration."""
    session = db_session()
    try:
        row = session.get(CjAccountState, 1)
        base = settings().public_base_url
        return ok({"callback_url": callback_url(base, settings().secret_key) if base else None,
                   "public_base_url_set": bool(base), "open_id_known": bool(row and row.open_id_enc),
                   "last_registration": (row.webhook_registration if row else None) or None})
    finally:
        session.close()


@bp.post("/cj/webhook")
def register_cj_webhook():
    """Queue CJ's /webhook/set for the order and logistics topics (the worker makes the call)."""
    if not settings().public_base_url.startswith("https://"):
        raise ApiError(409, "public_url_missing", "set PUBLIC_BASE_URL to this service's public https:// address "
                       "first: CJ only calls public HTTPS addresses")
    session = db_session()
    try:
        job = enqueue(session, kind="register_cj_webhooks", payload={}, dedupe_key="register_cj_webhooks")
        session.commit()
        runtime().notifier.jobs_committed()
        return ok({"job_id": job.id, "status": "queued", "result_at": "/admin/cj/webhook (last_registration)"}, 202)
    finally:
        session.close()


@bp.get("/cj/account")
def cj_account_budget():
    """Requests per second in force, points spent today and left, budgets CJ said are used up; the wallet."""
    session = db_session()
    try:
        return ok(dict(budget_status(session, runtime=runtime()), wallet=wallet_status(session, runtime=runtime()),
                       product_subscriptions=subscription_status(session)))
    finally:
        session.close()


@bp.get("/cj/variants")
def cj_variants():
    """CJ's variants for ?sku= (variantQuery, the exact match first), to map a store line to a CJ variant id."""
    session = db_session()
    try:
        try:
            rows = variants_by_sku(session, runtime=runtime(), sku=request.args.get("sku", ""))
        except LookupFailed as exc:
            status = {"no_sku": 400, "no_api_key": 409, "cj_busy": 503}.get(exc.why, 502)
            raise ApiError(status, exc.why, str(exc), headers={"Retry-After": str(exc.retry_after)}
                           if exc.retry_after else None) from None
        session.commit()
        return ok(rows)
    finally:
        session.close()
