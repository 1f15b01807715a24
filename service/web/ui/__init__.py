"""The admin page under /admin/ui: server-rendered, signed in with the admin token, CSRF-checked forms."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
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


def register_admin_ui(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    session_cookie.install(app, secret_key=settings.secret_key, admin_token=settings.admin_token,
                           production=settings.production)
    app.register_blueprint(bp)
    app.register_error_handler(404, _not_found)


def _not_found(exc: HTTPException):
    """An unknown address under the admin page is a page too; anywhere else the one JSON error shape."""
    if request.path.startswith(session_cookie.UI_PREFIX + "/"):
        # A view's own abort(404) says what is missing; an unknown address has no view.
        return _refuse(404, exc.description if request.blueprint == "ui" else "There is no such page.")
    return error_response(404, "not_found", exc.description)


@bp.app_context_processor
def _template_globals():
    if not request.path.startswith(session_cookie.UI_PREFIX):
        return {}
    return {"csrf_token": csrf_token, "signed_in": bool(session.get("admin"))}


@bp.before_request
def _guard():
    if (request.content_length or 0) > MAX_ADMIN_BODY_BYTES:
        return _refuse(413, "This form is too large.")
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
    if parts.scheme or parts.netloc or not parts.path.startswith(session_cookie.UI_PREFIX) or "\\" in target:
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


@bp.after_request
def _headers(response):
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
