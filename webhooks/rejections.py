"""One structured log line for every webhook answered with an error: why, from which platform and shop; no body."""
from __future__ import annotations

import logging

from flask import Response, g, request

from service.observability.metrics import count_delivery
from webhooks import bp

log = logging.getLogger("cj_bridge.webhooks")


def note_rejection(reason: str, *, shop_domain: str | None = None, **fields) -> None:
    """Say why this request is refused (more precisely than its answer, which must not tell strangers)."""
    g.webhook_rejection = {"reason": reason, "shop_domain": (shop_domain or "")[:255], **fields}


@bp.after_request
def log_rejection(response: Response) -> Response:
    platform = (request.view_args or {}).get("platform") or ("cj" if request.path.startswith("/webhooks/cj") else "")
    count_delivery(platform, _outcome(response))
    if response.status_code < 400:
        return response
    noted = g.pop("webhook_rejection", None) or {}
    body = response.get_json(silent=True) or {}
    code = (body.get("error") or {}).get("code") if isinstance(body, dict) else None
    fields = {"platform": (request.view_args or {}).get("platform") or
              ("cj" if request.path.startswith("/webhooks/cj") else ""),
              "status": response.status_code,
              "reason": noted.pop("reason", None) or code or "error",
              "shop_domain": noted.pop("shop_domain", "") or _claimed_shop(),
              **noted}
    # 5xx: the delivery was fine but could not be stored now; the platform delivers it again.
    log.warning("webhook_rejected" if response.status_code < 500 else "webhook_not_stored",
                extra={"fields": fields})
    return response


def _outcome(response: Response) -> str:
    """accepted, duplicate, ignored (2xx, as the answer says), else the error code."""
    body = response.get_json(silent=True) if response.is_json else None
    if isinstance(body, dict):
        data, error = body.get("data"), body.get("error")
        if isinstance(error, dict) and error.get("code"):
            return str(error["code"])[:40]
        if isinstance(data, dict) and data.get("status"):
            return str(data["status"])[:40]
        if body.get("message") in ("ok", "duplicate"):  # CJ's acknowledgement shape
            return "accepted" if body["message"] == "ok" else "duplicate"
    return "accepted" if response.status_code < 300 else f"http_{response.status_code}"


def _claimed_shop() -> str:
    """The shop the request names in its headers (unverified, for the log only)."""
    for header in ("X-Shopify-Shop-Domain", "X-WC-Webhook-Source"):
        value = request.headers.get(header)
        if value:
            return value.strip()[:255]
    return ""
