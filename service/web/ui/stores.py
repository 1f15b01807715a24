"""Admin page: the stores, their webhook health, last poll and credentials state; queue webhook registration."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from sqlalchemy import select

from service.pipeline.store_setup import NotRegistrable, queue_webhook_registration
from service.storage.models import Store
from service.web.admin.stores import store_view
from service.web.context import db_session, runtime, settings
from service.web.ui import bp


@bp.get("/stores")
def stores():
    session = db_session()
    try:
        # store_view names which credentials are set, never their values.
        return render_template("ui/stores.html",
                               stores=[store_view(s) for s in session.scalars(select(Store).order_by(Store.id))])
    finally:
        session.close()


@bp.post("/stores/<int:store_id>/webhooks")
def register_webhooks(store_id: int):
    session = db_session()
    try:
        store = session.get(Store, store_id)
        if store is None:
            abort(404, f"There is no store {store_id}.")
        try:
            job = queue_webhook_registration(session, store=store, public_base_url=settings().public_base_url)
        except NotRegistrable as exc:
            flash(exc.message, "error")
        else:
            session.commit()
            runtime().notifier.jobs_committed()
            flash(f"Webhook registration queued (job {job.id}); the result shows here once the worker ran it.", "ok")
        return redirect(url_for("ui.stores"))
    finally:
        session.close()
