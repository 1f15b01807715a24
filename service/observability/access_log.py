"""gunicorn's access log as one JSON line per request, carrying the request id the app's own lines carry.

No query string (it can hold a challenge code or a store's keys), no client address, no user agent: the
method, the path, the status, the time taken and the request id (from the answer's X-Request-Id).
"""
from __future__ import annotations

import json
import time

from gunicorn.glogging import Logger


class JsonAccessLogger(Logger):
    def access(self, resp, req, environ, request_time):
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.logconfig_dict or self.cfg.syslog):
            return
        headers = dict((name.lower(), value) for name, value in (resp.headers or []))
        status = resp.status.split(" ", 1)[0] if isinstance(resp.status, str) else resp.status
        entry = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "INFO", "logger": "access",
                 "event": "http_request", "method": environ.get("REQUEST_METHOD"),
                 "path": environ.get("PATH_INFO"), "status": int(status) if str(status).isdigit() else status,
                 "ms": round(request_time.total_seconds() * 1000, 1),
                 "request_id": headers.get("x-request-id")}
        try:
            self.access_log.info(json.dumps(entry))
        except Exception:  # noqa: BLE001 - gunicorn's own access() swallows logging failures too
            self.exception("access log failed")
