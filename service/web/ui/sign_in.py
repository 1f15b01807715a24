"""Signing in to the admin page with the admin token, and signing out."""
from __future__ import annotations

from flask import redirect, render_template, request, session, url_for

from service.web.admin_token import is_admin_token
from service.web.ui import bp, local_path
from service.web.ui.csrf import renew


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    target = local_path(request.values.get("next")) or url_for("ui.orders")
    if request.method == "GET":
        if session.get("admin"):
            return redirect(target)
        return render_template("ui/sign_in.html", next=target)
    if not is_admin_token(request.form.get("token", "").strip()):
        return render_template("ui/sign_in.html", next=target, error="That token is not the admin token."), 401
    session.clear()  # nothing from before signing in is carried over (session fixation)
    session.permanent = True
    session["admin"] = True
    renew()
    return redirect(target)


@bp.post("/sign-out")
def sign_out():
    session.clear()
    renew()
    return redirect(url_for("ui.sign_in"))
