"""Diagnostic app for bench/ingest.py: the service's durable write with the route's own work removed.

The webhook route here reads the body and hands it to the real intake writer, as the service does, and
looks up the store (cached per process), whose id the write needs. It skips the rest of the service's
route: HMAC, JSON parsing, the adapter, the kept headers. Its rate is the most a route in front of the
current write could reach, which splits the gap to bare Flask the other way round from
bench/no_write_app.py. Only the benchmark loads it.
"""
from flask import request

from service.web.json_api import ok
from service.intake.deliveries import Delivery, store_scope
from service.wsgi import app

_runtime = app.extensions["cj_bridge"]


def write_only(platform: str):
    raw = request.stream.read()
    delivery_id = request.headers["X-Shopify-Webhook-Id"]
    store = _runtime.stores.find(platform, request.headers["X-Shopify-Shop-Domain"])
    stored = _runtime.deliveries.store(Delivery(
        source=platform, scope=store_scope(platform, store.id), store_id=store.id, topic="orders/paid",
        delivery_id=delivery_id, raw_body=raw, headers={}, keys=(f"webhook-id:{delivery_id}",),
        job_kind="process_event"))
    return ok({"status": "accepted", "event_id": stored.event_id})


app.view_functions["webhooks.store_webhook"] = write_only
