"""Signing in to the admin page with the admin token, signing out (every session at once), and ending old sessions."""
from __future__ import annotations

import logging

from flask import redirect, render_template, request, session, url_for

from service.timeutil import utcnow
from service.web.admin_token import is_admin_token
from service.web.context import db_session
from service.web.ui import bp, local_path
from service.web.ui.csrf import renew
from service.web.ui.session_end import end_sessions_signed_in_before, sessions_valid_after, still_signed_in

log = logging.getLogger("cj_bridge.admin_ui")

SIGNED_IN_KEYS = ("admin", "signed_in_at")


@bp.before_app_request
def end_stale_session():
    """Before the page's own guard (app-wide hooks run first): a session past 12 hours from its sign-in, or signed
    in before the last sign-out, is no longer signed in, so the guard sends it to the sign-in form."""
    if not session.get("admin"):  # every path outside the admin page has the empty null session
        return
    db = db_session()
    try:
        valid_after = sessions_valid_after(db)
    finally:
        db.close()
    if not still_signed_in(session.get("signed_in_at"), now=utcnow(), valid_after=valid_after):
        # The CSRF token stays: a refused POST then says "Sign in first" rather than blaming the form.
        for key in SIGNED_IN_KEYS:
            session.pop(key, None)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    target = local_path(request.values.get("next")) or url_for("ui.orders")
    if request.method == "GET":
        if session.get("admin"):
            return redirect(target)
        return render_template("ui/sign_in.html", next=target)
    if not is_admin_token(request.form.get("token", "").strip()):
        _audit("wrong_token")
        return render_template("ui/sign_in.html", next=target, error="That token is not the admin token."), 401
    session.clear()  # nothing from before signing in is carried over (session fixation)
    session.permanent = True
    session["admin"] = True
    session["signed_in_at"] = utcnow().isoformat()  # the session ends 12 hours from here, however often used
    renew()
    _audit("ok")
    return redirect(target)


@bp.post("/sign-out")
def sign_out():
    # Server-side: a copy of this cookie (or another browser's) signed in before now no longer opens the page.
    db = db_session()
    try:
        end_sessions_signed_in_before(db, utcnow())
        db.commit()
    finally:
        db.close()
    session.clear()
    renew()
    return redirect(url_for("ui.sign_in"))


def _audit(outcome: str) -> None:
    """One line per sign-in attempt, with who tried from where; never the token typed."""
    log.log(logging.INFO if outcome == "ok" else logging.WARNING, "admin_ui_sign_in",
            extra={"fields": {"outcome": outcome, "client": request.remote_addr,
                              # Behind the platform's router the client is the router; the address it says
                              # it forwarded for (unverified, the router's word) is kept beside it.
                              "forwarded_for": (request.headers.get("X-Forwarded-For") or "")[:100] or None}})
