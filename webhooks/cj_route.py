"""POST /webhooks/cj: CJ ORDER/LOGISTIC messages, signed with the account openId."""
from __future__ import annotations

from flask import jsonify, request

from adapters.base import signature_matches
from service.web.json_api import ApiError, parse_json
from service.cj.account import stored_open_id
from webhooks import bp
from service.intake.deliveries import Delivery
from service.web.context import runtime, settings
from webhooks.intake import kept_headers, read_raw_body


@bp.post("/cj")
def cj_webhook():
    raw = read_raw_body(settings().max_webhook_bytes)
    open_id = settings().cj_open_id
    if not open_id:
        with runtime().session_factory() as session:
            open_id = stored_open_id(session)
    if not open_id:
        raise ApiError(401, "signature_unverifiable", "CJ_OPEN_ID is not configured and no CJ token has "
                       "been obtained yet, so the 'sign' header cannot be checked")
    if not signature_matches(raw, request.headers.get("sign"), [open_id]):
        raise ApiError(401, "invalid_signature", "the 'sign' header is missing or does not match")
    message = parse_json(raw)
    if not isinstance(message, dict) or not message.get("messageId"):
        raise ApiError(400, "missing_message_id", "a CJ message needs a messageId")
    kind = str(message.get("type") or "").upper()
    handled = kind in ("ORDER", "LOGISTIC")
    stored = runtime().deliveries.store(Delivery(
        source="cj", scope="cj", store_id=None, topic=f"{kind}/{message.get('messageType') or ''}",
        delivery_id=str(message["messageId"]), raw_body=raw, headers=kept_headers(),
        keys=(f"message:{message['messageId']}",), job_kind="apply_cj_event" if handled else None))
    # CJ's documented acknowledgement body.
    return jsonify({"code": 200, "result": "success", "message": "duplicate" if stored.duplicate else "ok"}), 200
