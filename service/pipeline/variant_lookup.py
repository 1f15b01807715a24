"""Looking up CJ variants by SKU for the merchant who is mapping a line (admin API and admin page)."""
from __future__ import annotations

import math

from sqlalchemy.orm import Session

from service.cj.errors import RATE_LIMITED, CjApiError, CjTransportError
from service.jobs.outcomes import RetryLater
from service.pipeline import mapping
from service.runtime import Runtime


NOT_FOUND_CODES = {1602000}  # CJ's "variant not found" to a query by SKU


class LookupFailed(ValueError):
    """CJ could not be asked (why: no_sku, no_api_key, cj_busy) or did not answer (cj_error); the message says
    what to do."""

    def __init__(self, why: str, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.why = why
        self.retry_after = retry_after


def variants_by_sku(session: Session, *, runtime: Runtime, sku: str) -> list[dict]:
    """CJ's variants for a SKU (CJ's query also returns siblings), the exact match first; a match is cached.

    Commits the session before asking CJ, as forward_order's own lookup does: the CJ client's shared throttle
    writes through its own connection, which an open transaction here would block (SQLite).
    """
    sku = sku.strip()
    if not sku:
        raise LookupFailed("no_sku", "give a SKU to look up")
    if not runtime.settings.cj_api_key:
        raise LookupFailed("no_api_key", "CJ_API_KEY is not set, so CJ cannot be asked: set it, or copy the variant id "
                           "(vid) from the product's page on My CJ")
    session.commit()
    try:
        found = runtime.cj.query_variants_by_sku(sku)
    except CjApiError as exc:
        if exc.category == RATE_LIMITED:  # CJ's per-second limit, or the day's points used up
            wait = max(1, math.ceil(exc.retry_after or 2))
            raise LookupFailed("cj_busy", f"CJ's limit applies ({exc.cj_message}); try again in {wait} s",
                               retry_after=wait) from None
        if exc.code not in NOT_FOUND_CODES:
            raise LookupFailed("cj_error", str(exc)) from None
        found = []  # CJ has no variant with that SKU: an answer, not a failure
    except CjTransportError as exc:
        raise LookupFailed("cj_error", str(exc)) from None
    except RetryLater as exc:  # another process is signing in to CJ, or CJ's five-minute token guard applies
        wait = max(1, round(exc.retry_after or 5))
        raise LookupFailed("cj_busy", f"CJ cannot be asked right now ({exc}); try again in {wait} s",
                           retry_after=wait) from None
    exact = mapping.vid_from_variants(sku, found)
    if exact:
        mapping.remember_vid(session, sku, exact)  # what forward_order's own lookup would have learned
    rows = [{"vid": str(v.get("vid") or ""), "variant_sku": str(v.get("variantSku") or ""),
             "name": str(v.get("variantNameEn") or v.get("variantName") or ""),
             "price_usd": str(v.get("variantSellPrice") or ""), "exact": str(v.get("vid")) == exact}
            for v in found if v.get("vid")]
    return sorted(rows, key=lambda r: not r["exact"])
