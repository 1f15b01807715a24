"""register_cj_webhooks: point CJ's order and logistics webhooks at this deployment's secret address."""
from __future__ import annotations

from sqlalchemy.orm import Session

from service.cj.errors import CjApiError, CjTransportError, retry_if_transient
from service.cj.webhook_address import callback_url
from service.jobs.outcomes import NeedsHuman
from service.storage.models import CjAccountState
from service.runtime import Runtime
from service.timeutil import iso, utcnow

ACCOUNT_ROW_ID = 1


def register_cj_webhooks(session: Session, *, runtime: Runtime) -> dict:
    """CJ's /webhook/set with the order and logistics topics on (product and stock off); the outcome is kept."""
    settings = runtime.settings
    if not settings.public_base_url.startswith("https://"):
        raise NeedsHuman("public_url_missing", "CJ only calls public https:// addresses, and PUBLIC_BASE_URL is "
                         f"{settings.public_base_url or 'not set'}. Resolution: set PUBLIC_BASE_URL to this service's "
                         "public https:// address, then POST /admin/cj/webhook again.")
    url = callback_url(settings.public_base_url, settings.secret_key)
    result = {"at": iso(utcnow()), "topics": ["order", "logistics"]}
    if settings.cj_dry_run:
        result.update(outcome="dry_run", detail="CJ_DRY_RUN is on: webhook/set was not sent")
    else:
        session.commit()
        try:
            runtime.cj.set_webhooks(url, catalog=runtime.settings.stock_sync != "off")
        except (CjApiError, CjTransportError) as exc:
            retry_if_transient(exc)
            raise NeedsHuman("cj_webhook_refused", f"CJ refused webhook/set: code {exc.code}: {exc.cj_message}. "
                             "Resolution: CJ checks that the address answers over public HTTPS (no localhost); "
                             "fix that, then POST /admin/cj/webhook again.") from None
        result["outcome"] = "registered"
    row = session.get(CjAccountState, ACCOUNT_ROW_ID)
    row.webhook_registration = result  # the secret address itself is never stored or logged
    return result
