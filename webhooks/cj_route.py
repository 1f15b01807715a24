"""POST /webhooks/cj/<path secret>: CJ's messages, stored as hints; what they say is read back from CJ's API."""
from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import NotFound

from service.cj.webhook_address import is_path_secret
from service.intake.deliveries import Delivery
from service.web.context import runtime, settings
from service.web.json_api import ApiError, parse_json
from webhooks import bp
from webhooks.intake import kept_headers, read_raw_body
from webhooks.rejections import note_rejection

# Message types whose subject is one of our orders: each becomes a read of that order from CJ's API.
HINT_TYPES = ("ORDER", "LOGISTIC", "ORDERSPLIT")
# Message types about CJ's catalog: each becomes a read of the mapped variants' stock from CJ's API.
CATALOG_TYPES = ("STOCK", "VARIANT", "PRODUCT")


@bp.post("/cj/<path_secret>")
def cj_webhook(path_secret: str):
    if not is_path_secret(path_secret, settings().secret_key):
        note_rejection("wrong_path_secret")
        raise NotFound()  # the same answer as any other unknown address
    raw = read_raw_body(settings().max_webhook_bytes)
    message = parse_json(raw)
    if not isinstance(message, dict) or not message.get("messageId"):
        raise ApiError(400, "missing_message_id", "a CJ message is a JSON object with a messageId")
    kind = str(message.get("type") or "").upper()
    stored = runtime().deliveries.store(Delivery(
        source="cj", scope="cj", store_id=None, topic=f"{kind}/{message.get('messageType') or ''}",
        delivery_id=str(message["messageId"]), raw_body=raw, headers=kept_headers(),
        keys=(f"message:{message['messageId']}",),
        job_kind="apply_cj_event" if kind in HINT_TYPES else "apply_cj_catalog_event" if kind in CATALOG_TYPES else None))
    # CJ's documented acknowledgement body.
    return jsonify({"code": 200, "result": "success", "message": "duplicate" if stored.duplicate else "ok"}), 200


@bp.post("/cj")
def cj_webhook_without_secret():
    # The address now carries a secret path (GET /admin/cj/webhook shows it): an old registration or a
    # stranger. Answered like any unknown address, logged so an operator who forgot to re-register sees it.
    note_rejection("cj_webhook_without_path_secret",
                   resolution="POST /admin/cj/webhook registers the current address with CJ")
    raise NotFound()
