"""Outbound HTTP with a timeout on every call and one structured log line per call, no secrets."""
from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import requests

log = logging.getLogger("cj_bridge.outbound")


class OutboundHttp:
    def __init__(self, *, timeout: float, session: requests.Session | None = None):
        self.timeout = timeout
        self.session = session or requests.Session()

    def request(self, method: str, url: str, *, service: str, operation: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        started = time.monotonic()
        parts = urlsplit(url)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            log.warning("outbound_call", extra={"fields": {
                "service": service, "operation": operation, "method": method, "host": parts.hostname,
                "path": parts.path, "error": type(exc).__name__,
                "ms": round((time.monotonic() - started) * 1000, 1)}})
            raise
        log.info("outbound_call", extra={"fields": {
            "service": service, "operation": operation, "method": method, "host": parts.hostname,
            "path": parts.path, "status": response.status_code,
            "ms": round((time.monotonic() - started) * 1000, 1)}})
        return response
