"""CJ envelope errors, classified by what the caller should do about them (cj-api.md §3)."""
from __future__ import annotations

from service.jobs.outcomes import RetryLater

RETRYABLE = "retryable"        # try again with backoff
RATE_LIMITED = "rate_limited"  # wait, then try again; not a failure
AUTH = "auth"                  # token problem: refresh or re-authenticate
NEEDS_HUMAN = "needs_human"    # no retry helps; hold with a resolution
EXISTS = "exists"              # the order already exists at CJ (1603003)

_RETRYABLE_CODES = {1600000, 1600301, 1603001}
_RATE_CODES = {1600200, 1600201, 429}
_AUTH_CODES = {1600001, 1600002, 1600003}
NOT_FOUND_CODES = {1600300, 1603100}
INSUFFICIENT_BALANCE_CODES = {1604000}

_RESOLUTIONS = {
    1600004: "check CJ_API_KEY (My CJ → Authorization → API) and restart the worker",
    1600005: "CJ_API_KEY is wrong: generate a new key in My CJ → Authorization → API",
    1600006: "the CJ developer account was not found: check CJ_API_KEY",
    1600008: "the CJ user was not found: check CJ_API_KEY",
    1601000: "the CJ user was not found: check CJ_API_KEY",
    1602000: "the mapped CJ variant does not exist: fix the SKU mapping (PUT /admin/sku-mappings)",
    1602001: "the mapped CJ product does not exist: fix the SKU mapping (PUT /admin/sku-mappings)",
    1602002: "the CJ product is delisted: map the SKU to another CJ variant (PUT /admin/sku-mappings)",
    1602003: "the CJ variant is delisted: map the SKU to another CJ variant (PUT /admin/sku-mappings)",
    1604000: "top up the CJ wallet balance; the order is retried on a schedule or by POST /admin/orders/<id>/retry",
    1604001: "balance payment is restricted for this CJ account: pay the order on the My CJ page",
    1605000: "the shipping method is not available: adjust the shipping rules (PUT /admin/shipping-rules)",
    1605001: "the shipping method name is invalid: use names from freightCalculate in the shipping rules",
    1605002: "the destination country code is unknown to CJ: correct the order's shipping address",
}


def classify(code: int | None, http_status: int) -> str:
    if http_status == 429 or code in _RATE_CODES:
        return RATE_LIMITED
    if code in _AUTH_CODES:
        return AUTH
    if code == 1603003:
        return EXISTS
    if http_status >= 500 or code in _RETRYABLE_CODES:
        return RETRYABLE
    return NEEDS_HUMAN


# The daily budgets: CJ's points (code 429 with "points" in the answer) and a per-interface quota (1600201).
# They last until CJ's daily reset; QPS answers (1600200, or a bare HTTP 429) clear within a second or two.
POINTS_EXHAUSTED = "points"
QUOTA_USED_UP = 1600201


class CjApiError(Exception):
    def __init__(self, *, code: int | None, message: str, http_status: int, request_id: str | None,
                 operation: str, wait_seconds: float | None = None):
        self.code = code
        self.cj_message = message
        self.http_status = http_status
        self.request_id = request_id
        self.operation = operation
        self.category = classify(code, http_status)
        self._wait_seconds = wait_seconds
        super().__init__(f"CJ {operation} failed: code {code}, HTTP {http_status}: {message}"
                         + (f" (requestId {request_id})" if request_id else ""))

    @property
    def resolution(self) -> str:
        return _RESOLUTIONS.get(self.code, "read CJ's message above, fix the cause, then POST "
                                           "/admin/orders/<id>/retry")

    @property
    def budget(self) -> str | None:
        """Which daily budget CJ says is used up: POINTS_EXHAUSTED, this operation's quota, or None (QPS)."""
        if self.code == QUOTA_USED_UP:
            return self.operation
        if self.code == 429 or (self.http_status == 429 and "point" in self.cj_message.lower()):
            return POINTS_EXHAUSTED
        return None

    @property
    def retry_after(self) -> float | None:
        if self.category != RATE_LIMITED:
            return None
        if self._wait_seconds is not None:
            return self._wait_seconds
        return 2.0  # a per-second limit; a used-up budget carries its own wait (until CJ's daily reset)


class CjTransportError(Exception):
    """No usable answer (timeout, connection error): the outcome of the call is unknown."""


def retry_if_transient(exc: Exception, *, note: str = "") -> None:
    """Raise RetryLater for a failure that time will cure (rate limits wait without using an attempt).

    Returns for a refusal (CjApiError that is needs-human, auth or exists): the caller decides.
    """
    message = f"{exc}{note}"
    if isinstance(exc, CjTransportError):
        raise RetryLater(message) from None
    if exc.category == RATE_LIMITED:
        raise RetryLater(message, retry_after=exc.retry_after, count_attempt=False) from None
    if exc.category == RETRYABLE:
        raise RetryLater(message) from None
