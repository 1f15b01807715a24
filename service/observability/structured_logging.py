"""One JSON object per log line; call sites pass ids in extra={'fields': {...}}, never PII."""
from __future__ import annotations

import json
import logging
import sys
import time

from service.observability import error_report
from service.observability.request_context import current_request_id


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
                 "level": record.levelname, "logger": record.name, "event": record.getMessage()}
        request_id = current_request_id.get()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            # Without the message, which can carry customer data (service/observability/error_report.py).
            entry["exception"] = error_report.trace(record.exc_info[1])
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_cj_bridge", False) for h in root.handlers):
        root.setLevel(level)
        _quiet_url_loggers()
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler._cj_bridge = True
    root.addHandler(handler)
    root.setLevel(level)
    _quiet_url_loggers()


def _quiet_url_loggers() -> None:
    """urllib3's DEBUG lines carry whole request URLs, and a WooCommerce store with auth_in_query sends its
    consumer key and secret in the URL: those loggers never go below INFO, whatever LOG_LEVEL says."""
    for name in ("urllib3", "requests"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))
