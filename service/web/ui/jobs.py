"""Admin page: dead jobs (those that gave up) with a retry button each."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from service.jobs.queue import retry_dead
from service.storage.models import Job
from service.web.context import db_session, runtime
from service.web.ui import bp

PAGE = 100


@bp.get("/jobs")
def jobs():
    session = db_session()
    try:
        dead = session.scalars(select(Job).where(Job.status == "dead").order_by(Job.id.desc()).limit(PAGE)).all()
        counts = dict(session.execute(select(Job.status, func.count(Job.id)).group_by(Job.status)).all())
        return render_template("ui/jobs.html", dead=dead, counts=counts)
    finally:
        session.close()


@bp.post("/jobs/<int:job_id>/retry")
def retry_job(job_id: int):
    session = db_session()
    try:
        try:
            job = retry_dead(session, job_id)
        except ValueError as exc:
            flash(str(exc), "error")
            return redirect(url_for("ui.jobs"))
        if job is None:
            flash(f"There is no job {job_id}.", "error")
            return redirect(url_for("ui.jobs"))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            flash("An equivalent job is already queued or running.", "error")
            return redirect(url_for("ui.jobs"))
        runtime().notifier.jobs_committed()
        flash(f"Job {job_id} ({job.kind}) queued again.", "ok")
        return redirect(url_for("ui.jobs"))
    finally:
        session.close()
