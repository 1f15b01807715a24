"""TikTok Shop's two HMAC-SHA256 signatures: of its webhooks (Authorization) and of our API calls (sign)."""
from __future__ import annotations

import hashlib
import hmac


def webhook_signature(app_key: str, app_secret: str, raw_body: bytes) -> str:
    """Lowercase hex HMAC-SHA256, keyed by the app secret, of the app key followed by the raw body."""
    return hmac.new(app_secret.encode(), app_key.encode() + raw_body, hashlib.sha256).hexdigest()


def webhook_signed(raw_body: bytes, header: str | None, app_key: str, app_secret: str) -> bool:
    if not header or not app_key or not app_secret:
        return False
    return hmac.compare_digest(webhook_signature(app_key, app_secret, raw_body).encode(),
                               header.strip().lower().encode("ascii", "replace"))


def request_sign(*, app_secret: str, path: str, query: dict, body: bytes = b"") -> str:
    """The `sign` query parameter: every parameter but sign and access_token, sorted, as keyvalue, after the
    path, then the exact body bytes sent (JSON calls), wrapped in the app secret; HMAC-SHA256, lowercase hex."""
    pairs = "".join(f"{key}{query[key]}" for key in sorted(query) if key not in ("sign", "access_token"))
    wrapped = app_secret.encode() + path.encode() + pairs.encode() + body + app_secret.encode()
    return hmac.new(app_secret.encode(), wrapped, hashlib.sha256).hexdigest()
