"""Exceptions a job handler raises to tell the queue what to do next (OCA queue_job taxonomy)."""
from __future__ import annotations


class RetryLater(Exception):
    """A transient failure: run the job again later.

    retry_after: seconds to wait (None = exponential backoff). count_attempt=False for waits
    that are not failures (rate limits, a lock held elsewhere), so they never make a job dead.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, count_attempt: bool = True):
        super().__init__(message)
        self.retry_after = retry_after
        self.count_attempt = count_attempt


class NeedsHuman(Exception):
    """A failure no retry can fix; the message ends with a 'Resolution:' telling what to do."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
