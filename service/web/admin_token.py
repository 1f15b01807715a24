"""The admin bearer token: one check for the admin API and the admin details of /readyz."""
from __future__ import annotations

import hmac

from flask import request

from service.web.context import settings


def has_admin_token() -> bool:
    """True when the request carries Authorization: Bearer <ADMIN_TOKEN> (compared in constant time)."""
    header = request.headers.get("Authorization", "")
    presented = header[7:].strip() if header.startswith("Bearer ") else ""
    return bool(presented) and hmac.compare_digest(presented.encode(), settings().admin_token.encode())
