"""The admin token: one constant-time check for the admin API, the admin details of /readyz and the admin page."""
from __future__ import annotations

import hmac

from flask import request

from service.web.context import settings


def is_admin_token(presented: str) -> bool:
    """True when presented is ADMIN_TOKEN (compared in constant time; empty is never)."""
    return bool(presented) and hmac.compare_digest(presented.encode(), settings().admin_token.encode())


def has_admin_token() -> bool:
    """True when the request carries Authorization: Bearer <ADMIN_TOKEN>."""
    header = request.headers.get("Authorization", "")
    return is_admin_token(header[7:].strip() if header.startswith("Bearer ") else "")
