"""Crash reports name the exception and where it happened, never the data in its message."""
from __future__ import annotations

import json
import logging
import sqlite3

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError

from service.observability import error_report
from service.observability.structured_logging import JsonFormatter


def _raise_from_our_code(secret: str):
    raise ValueError(f"invalid literal for int() with base 10: {secret!r}")


def _caught(fn, *args) -> BaseException:
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001
        return exc
    raise AssertionError("nothing was raised")


def test_summary_names_the_class_and_our_innermost_frame_but_not_the_message():
    exc = _caught(_raise_from_our_code, "Maria Lopez")
    text = error_report.summary(exc)
    assert text.startswith("ValueError at tests/service/observability/test_error_report.py:")
    assert text.endswith(" in _raise_from_our_code")
    assert "Maria" not in text and "invalid literal" not in text
    assert error_report.where(exc) == text.split(" at ", 1)[1]


def test_a_wrapped_driver_error_is_named_with_its_schema_facts_only():
    def insert():
        try:
            raise sqlite3.IntegrityError("UNIQUE constraint failed: delivery_keys.scope, delivery_keys.key")
        except sqlite3.IntegrityError as driver_error:
            raise IntegrityError("INSERT …", ("Maria Lopez",), driver_error) from driver_error

    text = error_report.summary(_caught(insert))
    assert text.startswith("IntegrityError from sqlite3.IntegrityError")
    assert "Maria" not in text


def test_a_postgresql_error_carries_sqlstate_and_constraint(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's diagnostics")
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("CREATE TEMP TABLE people (name text CONSTRAINT people_name_key UNIQUE)")
        conn.execute("INSERT INTO people VALUES ('Maria Lopez')")
        exc = _caught(conn.execute, "INSERT INTO people VALUES ('Maria Lopez')")
    assert "Maria" in str(exc)  # the driver's own message repeats the key (DETAIL)
    text = error_report.summary(exc)
    assert "UniqueViolation sqlstate 23505 constraint people_name_key table people" in text
    assert "Maria" not in text


def test_logged_exceptions_are_rendered_without_their_message():
    exc = _caught(_raise_from_our_code, "742 Evergreen Terrace")
    record = logging.LogRecord("cj_bridge.test", logging.ERROR, __file__, 1, "job_crashed", None,
                               (type(exc), exc, exc.__traceback__))
    entry = json.loads(JsonFormatter().format(record))
    assert entry["event"] == "job_crashed"
    assert "_raise_from_our_code" in entry["exception"] and "Traceback" in entry["exception"]
    assert "Evergreen" not in entry["exception"]
