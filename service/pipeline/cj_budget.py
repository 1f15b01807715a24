"""The CJ account's request and points budget: its own limits, what was spent today, and holds until reset.

CJ meters each account twice: requests per second (qpsLimit, by account level) and, since mid-2026, points per
day (freight quotes, variant and stock reads cost 10 each; order, payment and tracking calls cost none).
GET /setting/get states the account's own limits; it is read at start and daily. Points are counted here per
call from CJ's published costs, so the budget left is known before CJ refuses a call.
"""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from service.cj.account import ACCOUNT_ROW_ID, account_qps, locked_account
from service.cj.errors import POINTS_EXHAUSTED, CjApiError, CjTransportError, retry_if_transient
from service.jobs.outcomes import RetryLater
from service.pipeline.resume import resume_held
from service.runtime import Runtime
from service.storage.models import CjAccountState
from service.timeutil import iso, parse_iso_utc, utcnow

log = logging.getLogger("cj_bridge.pipeline")
LOW_POINTS_SHARE = 0.1  # warn when less than this share of the day's points is left
BUDGET_HOLD = "cj_budget_used_up"


def read_account_settings(session: Session, *, runtime: Runtime) -> str:
    """Periodic (at start, then daily): store the account's qpsLimit and quotaLimits as CJ states them."""
    if runtime.settings.cj_dry_run:
        return "dry_run"
    session.commit()
    try:
        data = runtime.cj.account_settings()
    except (CjApiError, CjTransportError) as exc:
        retry_if_transient(exc)
        raise RetryLater(f"{exc}; read again later") from None
    setting = data.get("setting") if isinstance(data.get("setting"), dict) else data
    row = locked_account(session)
    row.account_settings = {"qpsLimit": setting.get("qpsLimit"), "quotaLimits": setting.get("quotaLimits") or []}
    row.account_settings_at = utcnow()
    return f"qpsLimit {setting.get('qpsLimit')}"


def budget_status(session: Session, *, runtime: Runtime) -> dict:
    """Requests per second in force and where they come from, points spent today and left, used-up budgets."""
    row = session.get(CjAccountState, ACCOUNT_ROW_ID)
    if row is None:
        return {}
    today = utcnow().date().isoformat()
    used = row.points_used if row.points_day == today else 0
    budget = runtime.settings.cj_daily_points
    now = utcnow()
    exhausted = {k: v for k, v in (row.exhausted_until or {}).items() if (parse_iso_utc(v) or now) > now}
    if runtime.settings.cj_qps:
        qps, source = runtime.settings.cj_qps, "CJ_QPS"
    else:
        qps = account_qps(row)
        source = "the account's qpsLimit (GET /setting/get)" if (row.account_settings or {}).get("qpsLimit") \
            else "default (the account's limit is not read yet)"
    remaining = 0 if POINTS_EXHAUSTED in exhausted else max(0, budget - used)
    warning = None
    if POINTS_EXHAUSTED in exhausted:
        warning = (f"CJ's daily points are used up until {exhausted[POINTS_EXHAUSTED]}: freight quotes and stock "
                   "reads wait; orders that need one are held until then")
    elif remaining < budget * LOW_POINTS_SHARE:
        warning = f"only {remaining} of {budget} CJ points left today (reset 00:00 UTC)"
    return {"qps": qps, "qps_source": source, "points_used_today": used, "points_budget": budget,
            "points_remaining": remaining, "used_up_until": exhausted, "account_settings_at":
            iso(row.account_settings_at), "warning": warning}


def resume_budget_holds(session: Session) -> int:
    """Periodic: once CJ's daily budget is back (its reset at 00:00 UTC), the orders held for it go on."""
    row = session.get(CjAccountState, ACCOUNT_ROW_ID)
    until = parse_iso_utc((row.exhausted_until or {}).get(POINTS_EXHAUSTED)) if row else None
    if until is not None and until > utcnow():
        return 0
    return resume_held(session, reason=BUDGET_HOLD)
