"""What a request handler needs from the app: the process's Runtime, its settings, a database session."""
from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from service.config import Settings
from service.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["cj_bridge"]


def settings() -> Settings:
    return current_app.config["SETTINGS"]


def db_session() -> Session:
    """A new session; the handler closes it."""
    return runtime().session_factory()
