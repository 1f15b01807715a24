"""The Alembic migrations build exactly the schema the models describe (no drift either way)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.storage.migrate import head_revision
from service.storage.models import Base


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    # Server defaults that only exist to fill existing rows are not part of the models' comparison.
    assert diff == [], diff


def test_the_alembic_command_works_from_the_repository_root(tmp_path):
    """Issue 23 (4): there was no alembic.ini, so `alembic` could not be used directly."""
    import os
    import pathlib
    import subprocess
    import sys
    root = pathlib.Path(__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CJ_", "DATABASE_URL"))}
    env["CJ_BRIDGE_INSTANCE_PATH"] = str(tmp_path)
    alembic = [sys.executable, "-m", "alembic"]
    upgrade = subprocess.run([*alembic, "upgrade", "head"], cwd=root, env=env, capture_output=True, text=True,
                             timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    current = subprocess.run([*alembic, "current"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert current.returncode == 0 and f"{head_revision()} (head)" in current.stdout
    assert (tmp_path / "cj_bridge.sqlite3").exists()  # the service's own development database


def test_0020_spreads_the_known_variants_price_reads_over_the_past_week(tmp_path):
    """Review of issue 21: every price counted as never read, so the poll's first pass read them all at once."""
    from datetime import datetime, timedelta

    import sqlalchemy as sa
    from alembic import command

    from service.storage.migrate import alembic_config
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    command.upgrade(alembic_config(url), "0019")
    engine = sa.create_engine(url)
    from sqlalchemy.orm import Session
    from service.storage.models import Store
    with Session(engine) as session:  # the stores table is as the models say at 0019
        session.add(Store(id=1, platform="shopify", domain="x.myshopify.com", active=True, webhook_secret_enc="x"))
        session.commit()
    with engine.begin() as conn:
        for n in range(1, 8):
            conn.execute(sa.text("INSERT INTO sku_mappings (id, store_id, store_variant_id, cj_vid, cj_pid, source, "
                                 "self_stocked, created_at, updated_at) VALUES (:n, 1, :v, :vid, :pid, 'admin', 0, "
                                 "'2026-12-01 00:00:00', '2026-12-01 00:00:00')"),
                         {"n": n, "v": str(n), "vid": f"vid-{n}", "pid": None if n == 7 else f"pid-{n}"})
    command.upgrade(alembic_config(url), "0020")
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, cj_facts_at FROM sku_mappings")).all())
    engine.dispose()
    assert rows[7] is None  # never read: its first poll read reads the price too
    now = datetime.utcnow()
    ages = sorted(round((now - datetime.fromisoformat(str(rows[n]))) / timedelta(days=1)) for n in range(1, 7))
    assert ages == [1, 2, 3, 4, 5, 6]  # id % 7 days ago
