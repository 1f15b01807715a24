"""Store API tokens obtained from a grant (Shopify's client credentials, eBay's refresh token): kept, renewed, shared.

A store registered with a client id and secret (instead of a stored access token) gets its token from the
platform's grant (adapter.request_access_token). The token is kept encrypted in the store's credentials with its expiry, renewed an hour
before it expires and when the API rejects it, and asked for once however many workers need it: the
store row is locked while a worker marks the grant as its own, and the others wait for its result.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Callable

from sqlalchemy import select

from adapters import get_adapter
from service.jobs.outcomes import RetryLater
from service.runtime import Runtime
from service.storage.database import transaction
from service.storage.models import Store
from service.timeutil import iso, parse_iso_utc, utcnow

log = logging.getLogger("cj_bridge.pipeline")

# Kept in the store's (encrypted) credentials beside client_id / client_secret.
TOKEN, EXPIRES_AT, GRANT_STARTED_AT = "granted_access_token", "granted_expires_at", "grant_started_at"
INTERNAL_KEYS = (TOKEN, EXPIRES_AT, GRANT_STARTED_AT)
RENEW_BEFORE = timedelta(hours=1)
# Another worker's grant is waited for this long; past it, that worker is taken for dead.
GRANT_IN_PROGRESS = timedelta(seconds=30)


def uses_grant(credentials: dict) -> bool:
    return bool(credentials.get("client_id") and credentials.get("client_secret")
                and not credentials.get("access_token"))


def token_source(runtime: Runtime, *, store_id: int) -> Callable[..., str]:
    """A function the adapter calls for the current token (rejected=<token> after a 401); cached per job."""
    held: dict[str, str] = {}

    def current(rejected: str | None = None) -> str:
        if held.get("token") and held["token"] != rejected:
            return held["token"]
        held["token"] = granted_token(runtime, store_id=store_id, rejected=rejected)
        return held["token"]
    return current


def granted_token(runtime: Runtime, *, store_id: int, rejected: str | None = None) -> str:
    """A valid granted token for the store: the stored one, else a new grant (one worker asks, others wait).

    Never called with a transaction of the caller open (adapters call it right before their own request).
    """
    now = utcnow()
    with transaction(runtime.session_factory) as session:
        store = _locked_store(session, store_id)
        creds = runtime.box.open_json(store.credentials_enc)
        token, expires_at = creds.get(TOKEN), _time(creds.get(EXPIRES_AT))
        if token and token != rejected and expires_at is not None and expires_at - RENEW_BEFORE > now:
            return token
        started = _time(creds.get(GRANT_STARTED_AT))
        if started is not None and now - started < GRANT_IN_PROGRESS:
            raise RetryLater(f"another worker is obtaining store {store_id}'s access token", retry_after=2.0,
                             count_attempt=False)
        creds[GRANT_STARTED_AT] = iso(now)
        store.credentials_enc = runtime.box.seal_json(creds)
        grant = {k: v for k, v in creds.items() if k not in INTERNAL_KEYS}
        domain, base, platform = store.domain, store.api_base_url, store.platform
    try:
        granted = get_adapter(platform).request_access_token(
            runtime.http, domain=domain, api_base_url=base, credentials=grant)
    except BaseException:
        _save(runtime, store_id, {GRANT_STARTED_AT: None})  # the next try may ask at once
        raise
    # (token, seconds it lasts), or with a third part: credentials the grant replaced (a rotated refresh token).
    token, expires_in = granted[0], granted[1]
    replaced = granted[2] if len(granted) > 2 else {}
    _save(runtime, store_id, {**{k: v for k, v in replaced.items() if k not in INTERNAL_KEYS},
                              TOKEN: token, EXPIRES_AT: iso(utcnow() + timedelta(seconds=expires_in)),
                              GRANT_STARTED_AT: None})
    log.info("store_token_granted", extra={"fields": {"store_id": store_id, "expires_in_s": expires_in,
                                                      "replaced_rejected": rejected is not None}})
    return token


def _save(runtime: Runtime, store_id: int, changes: dict) -> None:
    with transaction(runtime.session_factory) as session:
        store = _locked_store(session, store_id)
        creds = runtime.box.open_json(store.credentials_enc)
        for key, value in changes.items():
            if value is None:
                creds.pop(key, None)
            else:
                creds[key] = value
        store.credentials_enc = runtime.box.seal_json(creds)


def _locked_store(session, store_id: int) -> Store:
    # PostgreSQL: the row lock; SQLite: every transaction already holds the database's write lock.
    stmt = select(Store).where(Store.id == store_id)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    store = session.scalar(stmt)
    if store is None:
        raise RetryLater(f"store {store_id} is gone")
    return store


def _time(value):
    try:
        return parse_iso_utc(value) if value else None
    except (TypeError, ValueError):
        return None
