"""/healthz and /readyz."""
from __future__ import annotations

import sqlalchemy as sa

from service.jobs.worker import beat
from tests.conftest import admin_headers


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"success": True, "data": {"status": "ok"}}


def test_readyz_needs_a_worker_heartbeat(client, runtime):
    res = client.get("/readyz", headers=admin_headers())
    assert res.status_code == 503
    assert "no worker has reported a heartbeat" in res.get_json()["error"]["message"]
    beat(runtime, worker_id="w")
    res = client.get("/readyz", headers=admin_headers())
    assert res.status_code == 200
    checks = res.get_json()["data"]["checks"]
    assert checks["database"] == "ok" and checks["migrations"]["current"] == checks["migrations"]["head"]
    assert checks["queue"]["due_jobs"] == 0


def test_readyz_reports_queue_depth_and_age(client, runtime, session_factory):
    from datetime import timedelta
    from service.jobs.queue import enqueue
    from service.timeutil import utcnow
    beat(runtime, worker_id="w")
    with session_factory() as s:
        enqueue(s, kind="noop", payload={}, run_at=utcnow() - timedelta(seconds=90))
        s.commit()
    queue = client.get("/readyz", headers=admin_headers()).get_json()["data"]["checks"]["queue"]
    assert queue["due_jobs"] == 1 and queue["oldest_due_age_seconds"] >= 89


def test_readyz_is_503_when_the_database_is_unreachable(make_app, tmp_path):
    app = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    app.extensions["cj_bridge"].session_factory.configure(bind=sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    res = app.test_client().get("/readyz", headers=admin_headers())
    assert res.status_code == 503 and "database unreachable" in res.get_json()["error"]["message"]


def test_readyz_is_503_when_migrations_are_behind(make_app, tmp_path):
    empty = f"sqlite:///{tmp_path}/empty.sqlite3"
    app = make_app(DATABASE_URL=empty)
    from service.storage.database import make_engine
    app.extensions["cj_bridge"].session_factory.configure(bind=make_engine(empty))
    res = app.test_client().get("/readyz", headers=admin_headers())
    assert res.status_code == 503 and "migrations not current" in res.get_json()["error"]["message"]


def test_readyz_tells_strangers_only_whether_it_is_ready(client, runtime):
    """Issue 22 (8): /readyz showed internals (queue, stores, budgets) without a token."""
    beat(runtime, worker_id="w1")
    public = client.get("/readyz")
    assert public.status_code == 200 and public.get_json() == {"success": True, "data": {"ready": True}}
    wrong = client.get("/readyz", headers={"Authorization": "Bearer wrong"}).get_json()["data"]
    assert set(wrong) == {"ready"}
    assert "checks" in client.get("/readyz", headers=admin_headers()).get_json()["data"]
