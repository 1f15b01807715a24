"""The one JSON response shape: {"success": true, "data": …} or {"success": false, "error": {…}}."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from service.intake import json_body
from service.intake.delivery_writer import DeliveryNotStored
from service.storage.schema_state import RUN_MIGRATIONS, schema_not_migrated

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details=None, *, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}  # e.g. Retry-After on a 503


def parse_json(raw: bytes):
    """Parse a request body; anything that is not JSON (or nests too deep to parse) is a 400."""
    try:
        return json_body.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from None


def ok(data=None, status: int = 200):
    return jsonify({"success": True, "data": data}), status


def error_response(status: int, code: str, message: str, details=None):
    body = {"success": False, "error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        body, status = error_response(exc.status, exc.code, exc.message, exc.details)
        body.headers.update(exc.headers)
        return body, status

    @app.errorhandler(DeliveryNotStored)
    def _not_stored(exc: DeliveryNotStored):
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def _database_unavailable(exc: Exception):
        # Nothing was stored: a non-2xx makes the platform deliver again later.
        if schema_not_migrated(exc):
            log.warning("database_not_migrated", extra={"fields": {"resolution": RUN_MIGRATIONS}})
            return error_response(503, "database_not_migrated", f"{RUN_MIGRATIONS}; nothing was stored, "
                                  "retry later")
        log.warning("database_unavailable", extra={"fields": {"error": type(exc).__name__}})
        return error_response(503, "database_unavailable", "the database is not reachable; nothing was stored, "
                              "retry later")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled_error")
        return error_response(500, "internal_error", "unexpected server error; see the service logs")
