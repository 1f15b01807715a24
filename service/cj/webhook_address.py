"""The address CJ posts its webhooks to: /webhooks/cj/<path secret>, the secret derived from SECRET_KEY.

CJ signs its messages with the account's numeric openId, which its own LOGISTIC bodies carry in clear: that
signature proves nothing. An unguessable path keeps strangers from making the service read CJ on their
behalf; what a message says is never trusted anyway (service/pipeline/cj_hints.py).
"""
from __future__ import annotations

import hashlib
import hmac

PATH_SECRET_CHARS = 40


def path_secret(secret_key: str) -> str:
    """Stable for a deployment (changes only with SECRET_KEY), unguessable without it."""
    digest = hmac.new(secret_key.encode(), b"cj-bridge:cj-webhook-path", hashlib.sha256).hexdigest()
    return digest[:PATH_SECRET_CHARS]


def callback_url(public_base_url: str, secret_key: str) -> str:
    return f"{public_base_url.rstrip('/')}/webhooks/cj/{path_secret(secret_key)}"


def is_path_secret(presented: str, secret_key: str) -> bool:
    return hmac.compare_digest(presented.encode("utf-8", "replace"), path_secret(secret_key).encode())
