"""CSRF protection for the admin page: one random token per session, checked on every POST in constant time."""
from __future__ import annotations

import hmac
import secrets

from flask import request, session

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def csrf_token() -> str:
    """The session's token, made on first use (the sign-in form has one too: no login CSRF)."""
    token = session.get(FIELD)
    if not token:
        token = session[FIELD] = secrets.token_urlsafe(32)
    return token


def renew() -> None:
    """A new token at sign-in and sign-out, so a token seen before cannot be replayed after."""
    session[FIELD] = secrets.token_urlsafe(32)


def request_is_genuine() -> bool:
    expected = session.get(FIELD) or ""
    presented = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    return bool(expected) and bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())
