"""CJ account state shared by every worker: the request throttle and the stored tokens."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.storage.credential_box import CredentialBox
from service.storage.database import transaction
from service.storage.models import CjAccountState
from service.timeutil import iso, parse_iso_utc, utcnow

log = logging.getLogger(__name__)

ACCOUNT_ROW_ID = 1
# Requests are spaced a little wider than 1/CJ_QPS: CJ counts arrivals on its own clock, and network
# jitter must not push QPS+1 requests into one of its seconds.
THROTTLE_SPACING_FACTOR = 1.03
# That 3 % adds up to 30 ms per second of requests. A caller that wakes more than a third of it late
# for its slot (a descheduled worker; bench/drain.py saw one in ~2,000 wake 114 ms late) gives the slot
# up and takes a new one: sent late, it would land inside the next second's share and CJ answers 1600200.
LATE_SLOT_SECONDS = 0.010
LATE_SLOT_RETRIES = 5  # then send anyway: a process that is always this late must still make progress
GET_TOKEN_MIN_INTERVAL = timedelta(minutes=5)
LOGIN_IN_PROGRESS = timedelta(seconds=60)  # a login this recent is probably still under way
TOKEN_SAFETY_MARGIN = timedelta(minutes=10)


def locked_account(session: Session) -> CjAccountState:
    """The singleton row, locked for this transaction (row lock on PostgreSQL, BEGIN IMMEDIATE on SQLite)."""
    stmt = select(CjAccountState).where(CjAccountState.id == ACCOUNT_ROW_ID)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise RuntimeError("cj_account_state row missing: run the database migrations")
    return row


class BudgetUsedUp(Exception):
    """A daily budget this call would spend is used up until `until` (UTC): nothing is sent."""

    def __init__(self, until: datetime):
        super().__init__(f"used up until {iso(until)}")
        self.until = until


def reserve_request_slot(session_factory: sessionmaker[Session], qps: float | None, *,
                         budgets: tuple[str, ...] = (), points: int = 0, sleep=time.sleep) -> float:
    """Take the next CJ request slot for the whole account and wait for it; returns seconds waited.

    qps None: the account's own qpsLimit as CJ states it (read_account_settings), else 1. Raises BudgetUsedUp,
    without taking a slot, when one of `budgets` is marked used up (mark_exhausted). `points` (what the call
    costs) are added to today's count.
    """
    waited = 0.0
    for attempt in range(LATE_SLOT_RETRIES + 1):
        with transaction(session_factory) as session:
            row = locked_account(session)
            until = _used_up_until(row, budgets)
            if until is not None:
                raise BudgetUsedUp(until)
            now = time.time()
            slot = max(now, row.next_request_at or 0.0)
            row.next_request_at = slot + THROTTLE_SPACING_FACTOR / (qps or account_qps(row))
            if points and attempt == 0:
                count_points(row, points)
        wait = slot - now
        if wait > 0:
            sleep(wait)
            waited += wait
        late = time.time() - slot
        if late <= LATE_SLOT_SECONDS:
            break
        log.info("cj_request_slot_missed", extra={"fields": {"late_ms": round(late * 1000, 1), "attempt": attempt}})
    return waited


def _used_up_until(row: CjAccountState, budgets: tuple[str, ...]) -> datetime | None:
    marks = row.exhausted_until or {}
    now = utcnow()
    until = [parse_iso_utc(marks[k]) for k in budgets if k in marks]
    until = [u for u in until if u and u > now]
    return max(until) if until else None


def mark_exhausted(session_factory: sessionmaker[Session], key: str) -> datetime:
    """CJ said a daily budget is used up: hold calls that spend it until CJ's reset (00:00 UTC)."""
    until = next_daily_reset(utcnow())
    with transaction(session_factory) as session:
        row = locked_account(session)
        row.exhausted_until = dict(row.exhausted_until or {}, **{key: iso(until)})
    log.warning("cj_budget_exhausted", extra={"fields": {"budget": key, "until": iso(until)}})
    return until


def next_daily_reset(now: datetime) -> datetime:
    return datetime(now.year, now.month, now.day) + timedelta(days=1)


def push_back_requests(session_factory: sessionmaker[Session], seconds: float) -> None:
    """After a rate-limit answer, hold every worker's next CJ call back by `seconds`."""
    with transaction(session_factory) as session:
        row = locked_account(session)
        row.next_request_at = max(row.next_request_at or 0.0, time.time() + seconds)


def account_qps(row: CjAccountState) -> float:
    """The account's request limit as CJ states it (GET /setting/get qpsLimit), 1 until known."""
    try:
        return max(0.1, float((row.account_settings or {}).get("qpsLimit") or 1))
    except (TypeError, ValueError):
        return 1.0


def count_points(row: CjAccountState, points: int) -> None:
    today = utcnow().date().isoformat()  # CJ's points reset at 00:00 UTC
    if row.points_day != today:
        row.points_day, row.points_used = today, 0
    row.points_used = (row.points_used or 0) + points


class StoredTokens:
    """Decrypted view of the token columns."""

    def __init__(self, row: CjAccountState, box: CredentialBox):
        self.access_token = box.open(row.access_token_enc)
        self.access_expires_at = row.access_expires_at
        self.refresh_token = box.open(row.refresh_token_enc)
        self.refresh_expires_at = row.refresh_expires_at

    def access_valid(self, now: datetime) -> bool:
        return bool(self.access_token) and (self.access_expires_at is None
                                            or self.access_expires_at - TOKEN_SAFETY_MARGIN > now)

    def refresh_valid(self, now: datetime) -> bool:
        return bool(self.refresh_token) and (self.refresh_expires_at is None
                                             or self.refresh_expires_at - TOKEN_SAFETY_MARGIN > now)


def store_tokens(row: CjAccountState, box: CredentialBox, data: dict) -> None:
    row.access_token_enc = box.seal(str(data["accessToken"]))
    row.access_expires_at = parse_iso_utc(data.get("accessTokenExpiryDate"))
    if data.get("refreshToken"):
        row.refresh_token_enc = box.seal(str(data["refreshToken"]))
        row.refresh_expires_at = parse_iso_utc(data.get("refreshTokenExpiryDate"))
    if data.get("openId") is not None:
        row.open_id_enc = box.seal(str(data["openId"]))
