"""Reading admin requests: the JSON body, marshmallow schemas, query integers, ids that must exist."""
from __future__ import annotations

from flask import request
from marshmallow import Schema, ValidationError

from service.web.json_api import ApiError, parse_json

MAX_PAGE = 200
# Admin bodies are small JSON documents; anything larger is refused before it is read.
MAX_ADMIN_BODY_BYTES = 1024 * 1024


def json_body(*, optional: bool = False):
    """The request's JSON body (None for an empty one when optional), read within MAX_ADMIN_BODY_BYTES."""
    raw = request.stream.read(MAX_ADMIN_BODY_BYTES + 1)  # a chunked body has no Content-Length to refuse early
    if len(raw) > MAX_ADMIN_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"admin request bodies are limited to {MAX_ADMIN_BODY_BYTES} bytes")
    if optional and not raw.strip():
        return None
    try:
        return parse_json(raw)
    except ApiError:
        raise ApiError(400, "invalid_json", "the body must be valid JSON") from None


def load(schema: Schema, data):
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ApiError(400, "validation_error", "the request has invalid fields", exc.messages) from None


def int_arg(name: str, default: int | None = None, maximum: int | None = None, minimum: int = 0) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "validation_error", f"query parameter {name} must be an integer") from None
    if value < minimum:
        raise ApiError(400, "validation_error", f"query parameter {name} must be at least {minimum}")
    return min(value, maximum) if maximum else value


def get_or_404(session, model, ident):
    obj = session.get(model, ident)
    if obj is None:
        raise ApiError(404, f"{model.__tablename__.rstrip('s')}_not_found", f"no {model.__name__} with id {ident}")
    return obj
