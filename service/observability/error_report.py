"""What of an unexpected exception may be logged or stored: its kind and where, never its message.

An exception's message can carry the data it failed on. A database error's does by design: SQLAlchemy
appends the statement's parameters, PostgreSQL's DETAIL repeats the conflicting key, and a customer's
name or address is often among them. A crash report therefore names the exception classes, the schema
objects the database names (SQLSTATE, constraint, table, column), and the code locations it passed
through. That is enough to find a bug, and it is safe to log and to keep after a customer's data has
been redacted.
"""
from __future__ import annotations

import os
import sqlite3
import traceback

import psycopg

# This file is service/observability/error_report.py: the checkout is three folders up.
_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep
_INSTALLED = "site-packages" + os.sep  # a virtualenv inside the checkout (./run makes .venv) is not ours


def summary(exc: BaseException) -> str:
    """One line: the exception's class (and its database cause), then where our code raised it."""
    text = _kind(exc)
    place = where(exc)
    return f"{text} at {place}" if place else text


def where(exc: BaseException) -> str | None:
    """file:line in function of the innermost frame of our own code, or None."""
    own = [frame for frame in traceback.extract_tb(exc.__traceback__) if _is_own(frame.filename)]
    return _place(own[-1]) if own else None


def trace(exc: BaseException) -> str:
    """A traceback without messages or values: the summary, then every frame, innermost last."""
    frames = [f"  {_place(frame)}" for frame in traceback.extract_tb(exc.__traceback__)]
    return "\n".join([summary(exc), "Traceback (most recent call last):", *frames])


def _kind(exc: BaseException) -> str:
    names = [type(exc).__name__]
    cause = getattr(exc, "orig", None) or exc.__cause__  # SQLAlchemy keeps the driver's error as .orig
    if isinstance(exc, (psycopg.Error, sqlite3.Error)):
        cause = exc
    elif cause is not None:
        names.append(f"from {type(cause).__module__}.{type(cause).__name__}")
    if isinstance(cause, psycopg.Error) and cause.diag is not None:
        diag = cause.diag
        names += [f"{label} {value}" for label, value in (
            ("sqlstate", cause.sqlstate), ("constraint", diag.constraint_name), ("table", diag.table_name),
            ("column", diag.column_name)) if value]
    elif isinstance(cause, sqlite3.Error) and getattr(cause, "sqlite_errorname", None):
        names.append(cause.sqlite_errorname)
    return " ".join(names)


def _is_own(filename: str) -> bool:
    path = os.path.abspath(filename)
    return path.startswith(_PROJECT_ROOT) and _INSTALLED not in path


def _place(frame: traceback.FrameSummary) -> str:
    path = os.path.abspath(frame.filename)
    if _INSTALLED in path:
        path = path.split(_INSTALLED, 1)[1]
    elif path.startswith(_PROJECT_ROOT):
        path = path[len(_PROJECT_ROOT):]
    return f"{path}:{frame.lineno} in {frame.name}"
