"""Diagnostic app for bench/ingest.py: the service with its database write replaced by a no-op.

It splits the gap to bare Flask into request handling (routing, signature, JSON, adapter) and the
durable write. Only the benchmark loads it; nothing it answers is stored.
"""
from service.intake.deliveries import Stored
from service.wsgi import app

app.extensions["cj_bridge"].deliveries.store = lambda delivery: Stored(event_id=0, duplicate=False)
