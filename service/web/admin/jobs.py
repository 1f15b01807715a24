"""Admin API: jobs (list, retry dead ones) and the latest inbound deliveries."""
from __future__ import annotations

from flask import request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.jobs.queue import retry_dead
from service.storage.models import Job, WebhookEvent
from service.timeutil import iso
from service.web.admin import bp
from service.web.admin.inputs import MAX_PAGE, int_arg
from service.web.context import db_session, runtime
from service.web.json_api import ApiError, ok


def _job_json(j: Job) -> dict:
    return {"id": j.id, "kind": j.kind, "payload": j.payload, "status": j.status, "attempts": j.attempts,
            "max_attempts": j.max_attempts, "run_at": iso(j.run_at), "last_error": j.last_error,
            "created_at": iso(j.created_at), "finished_at": iso(j.finished_at)}


@bp.get("/jobs")
def list_jobs():
    status = request.args.get("status")
    if status and status not in ("queued", "running", "done", "dead"):
        raise ApiError(400, "validation_error", "status must be queued, running, done or dead")
    limit = int_arg("limit", 50, MAX_PAGE, minimum=1)
    session = db_session()
    try:
        stmt = select(Job).order_by(Job.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(Job.status == status)
        return ok([_job_json(j) for j in session.scalars(stmt)])
    finally:
        session.close()


@bp.post("/jobs/<int:job_id>/retry")
def retry_job(job_id: int):
    session = db_session()
    try:
        try:
            job = retry_dead(session, job_id)
        except ValueError as exc:
            raise ApiError(409, "not_dead", str(exc)) from None
        if job is None:
            raise ApiError(404, "job_not_found", f"no job with id {job_id}")
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise ApiError(409, "already_queued", "an equivalent job is already queued or running") from None
        runtime().notifier.jobs_committed()
        return ok(_job_json(job), 202)
    finally:
        session.close()


@bp.get("/events")
def list_events():
    limit = int_arg("limit", 50, MAX_PAGE, minimum=1)
    session = db_session()
    try:
        events = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)).all()
        return ok([{"id": e.id, "source": e.source, "store_id": e.store_id, "topic": e.topic,
                    "delivery_id": e.delivery_id, "status": e.status, "note": e.note,
                    "received_at": iso(e.received_at), "processed_at": iso(e.processed_at)} for e in events])
    finally:
        session.close()
