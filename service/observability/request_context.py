"""The id of the request being answered, for every log line written while answering it (a context variable)."""
from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

current_request_id: ContextVar[str | None] = ContextVar("cj_bridge_request_id", default=None)
_ACCEPTED = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id_from(header_value: str | None) -> str:
    """The caller's X-Request-Id when it is a sane token (a router's id joins the logs up), else a new one."""
    value = (header_value or "").strip()
    return value if _ACCEPTED.fullmatch(value) else uuid.uuid4().hex
