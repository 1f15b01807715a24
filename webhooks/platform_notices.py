"""/webhooks/<platform> for notices a platform signs with its own keys (eBay's Marketplace Account Deletion).

GET answers the platform's endpoint check; POST verifies the signature with a key already held (a key not
held yet is fetched by the worker, and the notice answered 503 so the platform sends it again), stores the
notice with its job, and answers 204. Nothing unverified is acted on or stored.
"""
from __future__ import annotations

from flask import jsonify, request

from adapters.base import StoreAdapter
from service.intake.deliveries import Delivery
from service.pipeline import platform_notices
from service.web.context import db_session, runtime, settings
from service.web.json_api import ApiError, parse_json
from webhooks.intake import kept_headers, read_raw_body
from webhooks.rejections import note_rejection


def answer_challenge(adapter: StoreAdapter, platform: str):
    code = (request.args.get("challenge_code") or "").strip()
    if not code:
        raise ApiError(400, "missing_challenge_code", "the endpoint check sends ?challenge_code=…")
    if not settings().public_base_url:
        raise ApiError(503, "public_base_url_missing", "set PUBLIC_BASE_URL: the answer is computed with the "
                       "endpoint address as registered with the platform")
    session = db_session()
    try:
        token = platform_notices.verification_token(session, platform=platform, runtime=runtime())
    finally:
        session.close()
    if not token:
        raise ApiError(404, "no_store", f"register the {platform} store first: its webhook_secret is the "
                       "verification token given to the platform")
    # The address as registered, not request.url: behind a PaaS router that is http:// or an inner host.
    endpoint = f"{settings().public_base_url}/webhooks/{platform}"
    # The platform's own body (no envelope): eBay reads {"challengeResponse": …} from it.
    return jsonify(adapter.answer_challenge(code, verification_token=token, endpoint=endpoint)), 200


def receive_platform_notice(adapter: StoreAdapter, platform: str):
    source = request.access_route[0] if request.access_route else "unknown"
    limiter = runtime().unproven_sources
    if limiter.blocked(source):
        note_rejection("too_many_unverified_requests", source=source)
        raise ApiError(429, "too_many_unverified_requests", "too many requests that could not be verified from "
                       "this address; try again in a minute")
    raw = read_raw_body(settings().max_webhook_bytes)
    try:
        kid = adapter.notice_key_id(request.headers)
    except ValueError as exc:
        limiter.failed(source)
        note_rejection("bad_signature_header")
        raise ApiError(412, "signature_invalid", str(exc)) from None
    session = db_session()
    try:
        key = platform_notices.known_key(session, platform=platform, kid=kid)
        if key is None:
            # Counted as unproven: made-up key ids must not become a stream of key fetches.
            limiter.failed(source)
            platform_notices.request_key(session, platform=platform, kid=kid)
            session.commit()
            runtime().notifier.jobs_committed()
            note_rejection("signing_key_not_held_yet", kid=kid[:128])
            raise ApiError(503, "signing_key_unknown", "the key this notice is signed with is being fetched; "
                           "send the notice again")
        pem, digest = key.key_pem, key.digest
    finally:
        session.close()
    if not adapter.verify_notice(raw, request.headers, key_pem=pem, digest=digest):
        limiter.failed(source)
        note_rejection("invalid_signature", kid=kid[:128])
        raise ApiError(412, "signature_invalid", "the notice's signature does not verify")
    payload = parse_json(raw)
    try:
        notice = adapter.notice(payload)
    except ValueError:
        return "", 204  # signed by the platform but nothing we act on
    runtime().deliveries.store(Delivery(
        source=platform, scope=platform, store_id=None, topic=notice["kind"], delivery_id=notice["id"],
        raw_body=raw, headers=kept_headers(), keys=(f"notice:{notice['id']}",),
        job_kind="process_platform_notice"))  # a duplicate is acknowledged the same way
    return "", 204
