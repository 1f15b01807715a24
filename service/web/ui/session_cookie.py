"""The admin page's signed session cookie, and no session at all for any other path (webhooks stay cheap)."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from service.web.ui.session_end import LIFETIME, sign_in_time

UI_PREFIX = "/admin/ui"
COOKIE_NAME = "cjb_admin"


def signing_key(secret_key: str, admin_token: str) -> bytes:
    """Derived from SECRET_KEY and ADMIN_TOKEN: a new admin token signs every open session out."""
    return hmac.new(secret_key.encode(), b"cj-bridge admin-ui session\x00" + admin_token.encode(),
                    hashlib.sha256).digest()


def install(app: Flask, *, secret_key: str, admin_token: str, production: bool) -> None:
    app.session_interface = AdminSessionInterface(secret_key=secret_key, admin_token=admin_token,
                                                  production=production)
    # Read by Flask for the signature's max age (and the expiry of a cookie made before signing in).
    app.config["PERMANENT_SESSION_LIFETIME"] = LIFETIME
    # Flask would otherwise send the cookie again on every request with 12 more hours: 12 hours idle, not 12
    # hours from sign-in. The limit from sign-in itself is enforced server-side (sign_in.end_stale_session).
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False


class AdminSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie (itsdangerous), kept to /admin/ui: HttpOnly, SameSite=Lax, Secure in production.

    The app's Flask config has no SECRET_KEY on purpose (see Settings.as_flask_config): the key is given here,
    and every path outside the admin page gets Flask's null session without a signer being built.
    """

    def __init__(self, *, secret_key: str, admin_token: str, production: bool):
        self._key = signing_key(secret_key, admin_token)
        self._production = production

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._key, salt=self.salt, serializer=self.serializer,
                                      signer_kwargs={"key_derivation": self.key_derivation,
                                                     "digest_method": self.digest_method})

    def open_session(self, app, request):
        if not (request.path == UI_PREFIX or request.path.startswith(UI_PREFIX + "/")):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_expiration_time(self, app, session) -> datetime | None:
        """A signed-in cookie expires 12 hours after sign-in, even when a later request rewrites it (a flash)."""
        since = sign_in_time(session.get("signed_in_at"))
        if since is None:
            return super().get_expiration_time(app, session)
        return since.replace(tzinfo=timezone.utc) + LIFETIME

    def get_cookie_name(self, app) -> str:
        return COOKIE_NAME

    def get_cookie_path(self, app) -> str:
        return UI_PREFIX

    def get_cookie_domain(self, app):
        return None

    def get_cookie_httponly(self, app) -> bool:
        return True

    def get_cookie_secure(self, app) -> bool:
        return self._production

    def get_cookie_samesite(self, app) -> str:
        # Lax: a link from an alert (Slack, e-mail) opens the page signed in; every POST needs the CSRF token.
        return "Lax"
