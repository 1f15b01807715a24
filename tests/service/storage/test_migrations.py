"""The Alembic migrations build exactly the schema the models describe (no drift either way)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.storage.models import Base


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    # Server defaults that only exist to fill existing rows are not part of the models' comparison.
    assert diff == [], diff
