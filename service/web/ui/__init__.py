"""The admin page under /admin/ui: server-rendered, signed in with the admin token, CSRF-checked forms."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, redirect, render_template, request, session, url_for
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from service.web.admin.inputs import MAX_ADMIN_BODY_BYTES
from service.web.json_api import error_response
from service.web.ui import session_cookie
from service.web.ui.csrf import csrf_token, request_is_genuine

log = logging.getLogger(__name__)

bp = Blueprint("ui", __name__, url_prefix=session_cookie.UI_PREFIX, template_folder="templates",
               static_folder="static", static_url_path="/static")

# Pages anyone may open: the sign-in form and the stylesheet it uses.
_OPEN_ENDPOINTS = ("ui.sign_in", "ui.static")


MAX_ID = 2 ** 63 - 1  # the largest id a database row can have; a larger one is no row (and no SQL error)


def register_admin_ui(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    session_cookie.install(app, secret_key=settings.secret_key, admin_token=settings.admin_token,
                           production=settings.production)
    app.register_blueprint(bp)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _not_allowed)
    app.after_request(_headers_under_the_page)


def _under_the_page() -> bool:
    return request.path == session_cookie.UI_PREFIX or request.path.startswith(session_cookie.UI_PREFIX + "/")


def _not_found(exc: HTTPException):
    """An unknown address under the admin page is a page too; anywhere else the one JSON error shape."""
    if _under_the_page():
        # A view's own abort(404) says what is missing; an unknown address has no view.
        return _refuse(404, exc.description if request.blueprint == "ui" else "There is no such page.")
    return error_response(404, "not_found", exc.description)


def _not_allowed(exc: HTTPException):
    if _under_the_page():
        return _refuse(405, "This page cannot be used that way.")
    return error_response(405, "method_not_allowed", exc.description)


@bp.app_context_processor
def _template_globals():
    if not request.path.startswith(session_cookie.UI_PREFIX):
        return {}
    return {"csrf_token": csrf_token, "signed_in": bool(session.get("admin"))}


@bp.url_value_preprocessor
def _ids_in_range(_endpoint, values):
    if any(isinstance(v, int) and v > MAX_ID for v in (values or {}).values()):
        abort(404, "There is no such page.")


@bp.before_request
def _guard():
    # Before anything reads the form: a body without a length (chunked) is cut at the limit too, and no form
    # here uploads files, so a multipart body is never parsed (or spooled to disk) at all.
    request.max_content_length = MAX_ADMIN_BODY_BYTES
    if (request.content_length or 0) > MAX_ADMIN_BODY_BYTES:
        return _refuse(413, "This form is too large.")
    if request.method == "POST" and request.mimetype == "multipart/form-data":
        return _refuse(415, "This page's forms send no files.")
    if request.method == "POST" and request.content_length is None and request.environ.get("wsgi.input_terminated"):
        # A body without a length (chunked; browsers always give a form's length) would be cut at the limit
        # without an error (werkzeug), and a form that lost its last fields would be acted on.
        return _refuse(411, "This form was sent without its length.")
    if request.method == "POST" and not request_is_genuine():
        return _refuse(403, "This form was refused: its security token (CSRF) is missing or does not match "
                            "this session. Reload the page and send it again.")
    if request.endpoint not in _OPEN_ENDPOINTS and not session.get("admin"):
        if request.method != "GET":
            return _refuse(401, "Sign in first.")
        return redirect(url_for("ui.sign_in", next=local_path(request.full_path)))


def local_path(target: str | None) -> str | None:
    """Only a path under the admin page is a place to return to (never another site)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(session_cookie.UI_PREFIX) or "\\" in target \
            or any(ord(c) < 32 or ord(c) == 127 for c in target):  # control characters cannot be a Location
        return None
    return target.rstrip("?")


def _refuse(status: int, message: str):
    return render_template("ui/error.html", status=status, message=message), status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _refuse(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(DBAPIError)
def _database_error(exc: DBAPIError):
    log.warning("database_unavailable", extra={"fields": {"error": type(exc).__name__}})
    return _refuse(503, "The database did not answer in time; nothing was changed. Try again in a moment.")


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("unhandled_error")  # the class and place only reach the logs' crash report, never the page
    return _refuse(500, "Something went wrong on the server; the service logs say what.")


def _headers_under_the_page(response):
    """Every answer under /admin/ui, the app-level 404 and 405 pages included."""
    if not _under_the_page():
        return response
    # Pages show orders: never cached by a shared proxy, never framed (clickjacking), no referrer to other sites.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                                   "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


from service.web.ui import (health, jobs, money, order_fixes, orders, shipping_rules, sign_in,  # noqa: E402,F401
                            stores)  # (routes on bp)
