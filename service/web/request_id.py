"""Every answer carries X-Request-Id, and every log line written while answering carries the same id."""
from __future__ import annotations

from flask import Flask, Response, g, request

from service.observability.request_context import current_request_id, request_id_from


def register_request_id(app: Flask) -> None:
    @app.before_request
    def _take_request_id():
        g.request_id = request_id_from(request.headers.get("X-Request-Id"))
        g.request_id_token = current_request_id.set(g.request_id)

    @app.after_request
    def _give_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response

    @app.teardown_request
    def _forget_request_id(_exc=None):
        token = g.pop("request_id_token", None)
        if token is not None:
            current_request_id.reset(token)
