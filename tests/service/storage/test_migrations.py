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
