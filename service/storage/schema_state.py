"""Whether a database error means the schema is missing or behind (migrations not run), and what to do."""
from __future__ import annotations

MIGRATE_COMMAND = "flask --app service.wsgi db-upgrade"
RUN_MIGRATIONS = (f"the database has no CJ Bridge tables or is behind this code: run migrations "
                  f"(`{MIGRATE_COMMAND}`, the release step; ./run serve and docker compose run it)")

# PostgreSQL: undefined_table, undefined_column.
_NOT_MIGRATED_SQLSTATES = {"42P01", "42703"}
_NOT_MIGRATED_SQLITE = ("no such table", "no such column", "has no column named")


def schema_not_migrated(exc: BaseException) -> bool:
    """True when exc (a SQLAlchemy or driver error) is a missing table or column, not an outage."""
    original = getattr(exc, "orig", None) or exc
    if getattr(original, "sqlstate", None) in _NOT_MIGRATED_SQLSTATES:
        return True
    text = str(original)
    return type(original).__module__.startswith("sqlite3") and any(m in text for m in _NOT_MIGRATED_SQLITE)
