"""Alerts: what needs the merchant without anyone watching, computed from the database, sent once until it clears.

Kinds: orders paid at CJ without tracking after ALERT_NO_TRACKING_DAYS, orders near their platform's
hand-over deadline (TikTok Shop) that CJ has not shipped, orders at CJ with no CJ update for
48 h, orders held longer than ALERT_HELD_HOURS, dead jobs, a wallet short of what unpaid orders need (or under
LOW_BALANCE_USD), a store whose webhooks look disabled or whose poll needs attention, CJ's daily points
running out, a mapping whose CJ price leaves too little margin. `GET /admin/alerts` and `/readyz` show the
current ones; the periodic `send_alerts` job POSTs each new one to ALERT_WEBHOOK_URL (Slack-compatible
`{"text": …}`) and notes when one clears.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import requests
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from service.jobs.outcomes import RetryLater
from service.storage.models import AlertState, Job, Order, SkuMapping, Store
from service.pipeline.cj_budget import budget_status
from service.pipeline.cj_wallet import wallet_status
from service.pipeline.polling import webhook_health
from service.runtime import Runtime
from service.timeutil import iso, utcnow

log = logging.getLogger("cj_bridge.pipeline")

NO_CJ_UPDATE = timedelta(hours=48)
SHIP_BY_WARNING = timedelta(hours=24)  # an order not shipped this close to its platform's hand-over deadline
# The platform already shows the parcel handed over (shipped from Seller Center, say): the deadline is met.
HANDED_OVER = {"AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED", "COMPLETED"}
MAX_ORDERS_NAMED = 20  # one alert per kind names at most this many orders (the admin API lists them all)


@dataclass(frozen=True)
class Alert:
    key: str  # stable while the condition lasts: the same alert is sent once
    kind: str
    message: str


def current_alerts(session: Session, *, runtime: Runtime) -> list[Alert]:
    now = utcnow()
    settings = runtime.settings
    alerts: list[Alert] = []

    def orders_alert(kind: str, orders: list[Order], text: str) -> None:
        if orders:
            names = ", ".join(f"{o.name or o.platform_order_id} (id {o.id})" for o in orders[:MAX_ORDERS_NAMED])
            more = f" and {len(orders) - MAX_ORDERS_NAMED} more" if len(orders) > MAX_ORDERS_NAMED else ""
            key = f"{kind}:" + ",".join(str(o.id) for o in orders[:MAX_ORDERS_NAMED])
            alerts.append(Alert(key[:200], kind, f"{len(orders)} order(s) {text}: {names}{more}"))

    no_tracking = [o for o in session.scalars(select(Order).where(
        Order.cj_pay_state == "paid", Order.cancelled.is_(False),
        Order.cj_paid_at < now - timedelta(days=settings.alert_no_tracking_days),
        Order.state.in_(("paid", "submitted", "held"))).order_by(Order.id)) if not o.shipments]
    orders_alert("no_tracking", no_tracking, f"paid at CJ over {settings.alert_no_tracking_days} days ago and "
                 "still without tracking")
    due = [o for o in session.scalars(select(Order).where(
        Order.ship_by.is_not(None), Order.ship_by < now + SHIP_BY_WARNING, Order.cancelled.is_(False),
        Order.state.in_(("received", "ready", "submitted", "paid", "held")),
        or_(Order.hold_reason.is_(None), Order.hold_reason != "dry_run")).order_by(Order.ship_by, Order.id))
        if not o.shipments and (o.financial_status or "").upper() not in HANDED_OVER]
    orders_alert("ship_by", due, f"due to be handed to the carrier within {int(SHIP_BY_WARNING.total_seconds() // 3600)} hours "
                 "(or overdue) by the store's deadline, and CJ has not shipped them: a late hand-over counts "
                 "against the shop (TikTok Shop's late dispatch rate) and may cancel the order. Resolution: check "
                 "each at CJ (GET /admin/orders/<id>), or extend the deadline in the store's seller center")
    stale = list(session.scalars(select(Order).where(
        Order.cj_order_id.is_not(None), Order.state.in_(("submitted", "paid", "shipped")),
        func.coalesce(Order.last_cj_update_at, Order.created_at) < now - NO_CJ_UPDATE).order_by(Order.id)))
    orders_alert("no_cj_update", stale, "at CJ with no update from CJ for 48 hours")
    held = list(session.scalars(select(Order).where(
        Order.state == "held", Order.hold_reason != "dry_run",
        Order.updated_at < now - timedelta(hours=settings.alert_held_hours)).order_by(Order.id)))
    orders_alert("held_too_long", held, f"held for over {settings.alert_held_hours} hours (GET "
                 "/admin/orders?state=held says why)")
    dead = session.scalar(select(func.count(Job.id)).where(Job.status == "dead"))
    if dead:
        alerts.append(Alert("dead_jobs", "dead_jobs", f"{dead} job(s) gave up (GET /admin/jobs?status=dead)"))
    wallet = wallet_status(session, runtime=runtime)
    if wallet.get("warning"):
        alerts.append(Alert("wallet", "wallet", wallet["warning"]))
    for store in session.scalars(select(Store).where(Store.active.is_(True)).order_by(Store.id)):
        health = webhook_health(store)
        if health["webhooks_look_disabled"]:
            alerts.append(Alert(f"webhooks_disabled:{store.id}", "webhooks_disabled",
                                f"store {store.domain}: polling found orders no webhook brought; check its webhooks"))
        if health["poll_needs_attention"]:
            alerts.append(Alert(f"poll_needs_attention:{store.id}", "poll_needs_attention",
                                f"store {store.domain}: {health['last_poll_result']}"))
    budget = budget_status(session, runtime=runtime)
    if budget.get("warning"):
        alerts.append(Alert("cj_points", "cj_points", budget["warning"]))
    for mapping in session.scalars(select(SkuMapping).where(SkuMapping.margin_warning.is_not(None))
                                   .order_by(SkuMapping.id).limit(MAX_ORDERS_NAMED)):
        name = mapping.store_sku or mapping.store_variant_id
        alerts.append(Alert(f"low_margin:{mapping.id}", "low_margin",
                            f"mapping {mapping.id} ({name} in store {mapping.store_id}): {mapping.margin_warning}"))
    return alerts


def send_alerts(session: Session, *, runtime: Runtime) -> str:
    """Periodic: record current alerts, POST the new ones (once), note the ones that cleared."""
    now = utcnow()
    alerts = {a.key: a for a in current_alerts(session, runtime=runtime)}
    known = {s.key: s for s in session.scalars(select(AlertState).where(AlertState.cleared_at.is_(None)))}
    for key, state in known.items():
        if key not in alerts:
            state.cleared_at = now
            log.info("alert_cleared", extra={"fields": {"kind": state.kind}})
    to_send = []
    for key, alert in alerts.items():
        state = known.get(key) or session.get(AlertState, key)
        if state is None or state.cleared_at is not None:
            if state is not None:
                session.delete(state)
                session.flush()
            state = AlertState(key=key, kind=alert.kind, message=alert.message, first_seen_at=now)
            session.add(state)
        state.last_seen_at, state.message = now, alert.message
        if state.sent_at is None:
            to_send.append(state)
    session.commit()
    url = runtime.settings.alert_webhook_url
    if not url or not to_send:
        return f"{len(alerts)} alert(s), {len(to_send)} new"
    text = "CJ Bridge needs attention:\n" + "\n".join(f"• {s.message}" for s in to_send)
    try:
        response = runtime.http.request("POST", url, service="alerts", operation="postAlert", secret_path=True,
                                        json={"text": text})
    except requests.RequestException as exc:
        raise RetryLater(f"the alert webhook is not reachable ({type(exc).__name__}); sent on the next run") from None
    if response.status_code >= 300:
        raise RetryLater(f"the alert webhook answered HTTP {response.status_code}; sent on the next run")
    for state in to_send:
        session.get(AlertState, state.key).sent_at = now
    return f"{len(alerts)} alert(s), {len(to_send)} sent"


def alerts_view(session: Session, *, runtime: Runtime) -> list[dict]:
    states = {s.key: s for s in session.scalars(select(AlertState).where(AlertState.cleared_at.is_(None)))}
    out = []
    for alert in current_alerts(session, runtime=runtime):
        state = states.get(alert.key)
        out.append({"kind": alert.kind, "message": alert.message,
                    "since": iso(state.first_seen_at) if state else None,
                    "sent_at": iso(state.sent_at) if state and state.sent_at else None})
    return out
