"""A database the migrations never ran on: every process says "run migrations", not "not reachable"."""
from __future__ import annotations

import logging
import uuid

import pytest
import sqlalchemy as sa

from service.app import create_app
from service.jobs import worker as worker_module
from service.storage.schema_state import MIGRATE_COMMAND
from tests.conftest import admin_headers, post_shopify, shopify_order


@pytest.fixture
def unmigrated_url(database_url, tmp_path):
    """A database (SQLite) or schema (PostgreSQL) with no tables at all."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/empty.sqlite3"
        return
    schema = f"empty_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield f"{database_url}?options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def unmigrated_app(base_env, unmigrated_url, tmp_path):
    return create_app({"TESTING": True, "ENV": {**base_env, "DATABASE_URL": unmigrated_url,
                                                "CJ_BRIDGE_INSTANCE_PATH": str(tmp_path)}})


def test_a_webhook_on_an_unmigrated_database_says_run_migrations(unmigrated_app, caplog):
    """Issue 23 (3): the answer and the log said "the database is not reachable"."""
    client = unmigrated_app.test_client()
    # The store lookup is the first query a delivery makes.
    res = post_shopify(client, shopify_order())
    assert res.status_code == 503
    error = res.get_json()["error"]
    assert error["code"] == "database_not_migrated" and MIGRATE_COMMAND in error["message"]
    assert "not reachable" not in error["message"]
    logged = [r for r in caplog.records if r.getMessage() == "database_not_migrated"]
    assert logged and MIGRATE_COMMAND in logged[0].fields["resolution"]


def test_the_intake_write_on_a_schema_behind_the_code_says_run_migrations(unmigrated_app, caplog):
    """The store lookup found no table; the write itself says the same (a store cached before a rollback)."""
    from service.intake.deliveries import Delivery
    from service.intake.delivery_writer import DeliveryNotStored
    rt = unmigrated_app.extensions["cj_bridge"]
    with pytest.raises(DeliveryNotStored) as err:
        rt.deliveries.store(Delivery(source="shopify", scope="shopify:1", store_id=1, topic="orders/create",
                                     delivery_id="d1", raw_body=b"{}", headers={}, keys=("k1",),
                                     job_kind="process_event"))
    assert err.value.status == 503 and err.value.code == "database_not_migrated"
    assert any(r.getMessage() == "database_not_migrated" for r in caplog.records)


def test_the_worker_on_an_unmigrated_database_says_run_migrations(unmigrated_app, monkeypatch, caplog):
    worker = worker_module.Worker(unmigrated_app.extensions["cj_bridge"], worker_id="w-test")
    monkeypatch.setattr(worker_module.time, "sleep", lambda _s: setattr(worker, "stopping", True))
    monkeypatch.setattr(worker_module.signal, "signal", lambda *_a: None)
    with caplog.at_level(logging.INFO):
        worker.run()
    said = [r for r in caplog.records if r.getMessage() == "database_not_migrated"]
    assert said and MIGRATE_COMMAND in said[0].fields["resolution"]
    assert not [r for r in caplog.records if r.getMessage() == "worker_loop_error"]


def test_readyz_names_the_migration_command(unmigrated_app):
    res = unmigrated_app.test_client().get("/readyz", headers=admin_headers())
    assert res.status_code == 503 and MIGRATE_COMMAND in res.get_json()["error"]["message"]


def test_readiness_probes_do_not_write_alembic_lines(client, caplog):
    """Issue 23 (3): every /readyz wrote "Context impl …" and "Will assume … DDL" at INFO."""
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            client.get("/readyz", headers=admin_headers())
    assert not [r for r in caplog.records if r.name.startswith("alembic")]
