"""Flask CLI commands: `flask --app service.wsgi db-upgrade | worker | run-jobs`."""
from __future__ import annotations

import click
from flask import Flask, current_app

from service import migrate


def register_cli(app: Flask) -> None:
    @app.cli.command("db-upgrade")
    def db_upgrade():
        """Apply Alembic migrations up to head (the Procfile's release step)."""
        migrate.upgrade(current_app.config["SETTINGS"].database_url)
        click.echo(f"database at revision {migrate.head_revision()}")

    @app.cli.command("worker")
    def worker():
        """Run the job worker until SIGTERM."""
        from service.worker import Worker
        Worker(current_app.extensions["cj_bridge"]).run()

    @app.cli.command("run-jobs")
    @click.option("--max-jobs", default=1000, show_default=True)
    def run_jobs(max_jobs: int):
        """Run every due job once, then exit."""
        from service.worker import drain
        click.echo(f"ran {drain(current_app.extensions['cj_bridge'], max_jobs=max_jobs)} job(s)")
