"""/metrics in Prometheus' text format: delivery counters from every web process, the rest read from the database.

Counters that only a web process sees (webhook deliveries by platform and outcome) live in
prometheus-client's multiprocess files (PROMETHEUS_MULTIPROC_DIR, set up by service/gunicorn_conf.py), so a
scrape answered by any gunicorn worker counts them all. Everything the worker does is in the database
already, and read at scrape time, whichever process or machine did it: jobs by kind and status, the due
queue and its oldest age, CJ calls by operation and outcome, orders by state, the CJ wallet, and how long
tracking took to reach the store.
"""
from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.storage.models import CjAccountState, ExternalCall, Job, Order, Shipment
from service.timeutil import utcnow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# prometheus-client picks its value store when a metric is made: decided once, here, as it did.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
DELIVERIES = Counter("cjbridge_webhook_deliveries", "Webhook deliveries answered, by platform and outcome",
                     ["platform", "outcome"])
WRITE_BACK_BUCKETS = (60, 300, 900, 3600, 4 * 3600, 24 * 3600)
WRITE_BACK_WINDOW = timedelta(days=7)


def count_delivery(platform: str, outcome: str) -> None:
    DELIVERIES.labels(platform=platform or "unknown", outcome=outcome).inc()


class _DatabaseCollector:
    """Gauges read from the database at scrape time (the worker's work, from any process)."""

    def __init__(self, session: Session):
        self.session = session

    def collect(self):
        s, now = self.session, utcnow()
        jobs = GaugeMetricFamily("cjbridge_jobs", "Jobs by kind and status", labels=["kind", "status"])
        for kind, status, count in s.execute(select(Job.kind, Job.status, func.count(Job.id))
                                             .group_by(Job.kind, Job.status)):
            jobs.add_metric([kind, status], count)
        yield jobs
        depth, oldest = s.execute(select(func.count(Job.id), func.min(Job.run_at)).where(
            Job.status == "queued", Job.run_at <= now)).one()
        yield GaugeMetricFamily("cjbridge_queue_due_jobs", "Jobs due now", value=depth)
        yield GaugeMetricFamily("cjbridge_queue_oldest_due_seconds", "Age of the oldest due job",
                                value=(now - oldest).total_seconds() if oldest else 0)
        calls = GaugeMetricFamily("cjbridge_cj_calls", "CJ calls recorded with orders, by operation and outcome",
                                  labels=["operation", "outcome"])
        for operation, outcome, count in s.execute(
                select(ExternalCall.operation, ExternalCall.outcome, func.count(ExternalCall.id))
                .where(ExternalCall.service == "cj").group_by(ExternalCall.operation, ExternalCall.outcome)):
            calls.add_metric([operation, outcome], count)
        yield calls
        orders = GaugeMetricFamily("cjbridge_orders", "Orders by state (holds by reason)", labels=["state", "reason"])
        for state, reason, count in s.execute(select(Order.state, Order.hold_reason, func.count(Order.id))
                                              .group_by(Order.state, Order.hold_reason)):
            orders.add_metric([state, reason if state == "held" and reason else ""], count)
        yield orders
        row = s.get(CjAccountState, 1)
        amount = ((row.wallet or {}) if row is not None else {}).get("amount")
        if amount is not None:
            yield GaugeMetricFamily("cjbridge_cj_wallet_usd", "CJ wallet balance as last read", value=float(Decimal(amount)))
        yield self._write_back_latency(now)

    def _write_back_latency(self, now):
        """Seconds from CJ's tracking number to the store, for shipments written in the last 7 days."""
        rows = self.session.execute(select(Shipment.created_at, Shipment.written_at).where(
            Shipment.written_at >= now - WRITE_BACK_WINDOW)).all()
        seconds = [(written - created).total_seconds() for created, written in rows if written and created]
        buckets, total = [], 0.0
        for bound in WRITE_BACK_BUCKETS:
            buckets.append((str(float(bound)), sum(1 for v in seconds if v <= bound)))
        buckets.append(("+Inf", len(seconds)))
        total = sum(seconds)
        family = GaugeHistogramMetricFamily("cjbridge_write_back_seconds", "Tracking number to store, last 7 days")
        family.add_metric([], buckets, gsum_value=total)
        return family


def render(session: Session) -> bytes:
    """The scrape: every web process's counters (multiprocess mode) plus the database's gauges."""
    registry = CollectorRegistry()
    if MULTIPROCESS:
        MultiProcessCollector(registry)
    else:
        registry.register(DELIVERIES)  # one process (tests, the Flask CLI): its own counters
    registry.register(_DatabaseCollector(session))
    return generate_latest(registry)
