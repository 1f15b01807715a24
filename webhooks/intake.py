"""Reading a delivery's raw body within limits; what of its headers is kept."""
from __future__ import annotations

from flask import request

from service.web.json_api import ApiError

# Not kept with a stored delivery: credentials, and the signatures (a stored signature and body could be
# replayed by whoever reads the database).
_DROP_HEADERS = {"authorization", "cookie", "x-forwarded-for", "x-shopify-hmac-sha256", "x-wc-webhook-signature",
                 "x-ebay-signature",
                 "sign"}


def read_raw_body(max_bytes: int) -> bytes:
    """The body exactly as sent, read once; over max_bytes → 413 without reading the rest."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise ApiError(413, "payload_too_large", f"body of {length} bytes exceeds MAX_WEBHOOK_BYTES={max_bytes}")
    body = request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ApiError(413, "payload_too_large", f"body exceeds MAX_WEBHOOK_BYTES={max_bytes}")
    if length is not None and len(body) < length:
        raise ApiError(400, "incomplete_body", f"the body ended after {len(body)} of its {length} bytes")
    return body


def kept_headers() -> dict:
    return {k: v[:500] for k, v in request.headers.items() if k.lower() not in _DROP_HEADERS}

