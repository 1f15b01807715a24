"""Alembic entry points: upgrade to head, and tell whether a database is at head."""
from __future__ import annotations

import logging
import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


class _ContextChatter(logging.Filter):
    """Drop Alembic's "Context impl …" / "Will assume … DDL" lines: /readyz reads the revision on every
    probe, and a probe every few seconds buried the log in them. "Running upgrade …" lines stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Context impl", "Will assume"))


logging.getLogger("alembic.runtime.migration").addFilter(_ContextChatter())


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS_DIR)
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at, read on the caller's connection (SQLite allows one writer)."""
    return MigrationContext.configure(connection).get_current_revision()
