"""One structured log line for every webhook answered with an error: why, from which platform and shop; no body."""
from __future__ import annotations

import logging

from flask import Response, g, request

from webhooks import bp

log = logging.getLogger("cj_bridge.webhooks")


def note_rejection(reason: str, *, shop_domain: str | None = None, **fields) -> None:
    """Say why this request is refused (more precisely than its answer, which must not tell strangers)."""
    g.webhook_rejection = {"reason": reason, "shop_domain": (shop_domain or "")[:255], **fields}


@bp.after_request
def log_rejection(response: Response) -> Response:
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


def _claimed_shop() -> str:
    """The shop the request names in its headers (unverified, for the log only)."""
    for header in ("X-Shopify-Shop-Domain", "X-WC-Webhook-Source"):
        value = request.headers.get(header)
        if value:
            return value.strip()[:255]
    return ""
