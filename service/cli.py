"""Flask CLI commands: `flask --app service.wsgi db-upgrade | worker | run-jobs | reconcile | resync-stock | …`."""
from __future__ import annotations

import click
from flask import Flask, current_app

from service.storage import migrate


def register_cli(app: Flask) -> None:
    @app.cli.command("db-upgrade")
    def db_upgrade():
        """Apply Alembic migrations up to head (the Procfile's release step)."""
        migrate.upgrade(current_app.config["SETTINGS"].database_url)
        click.echo(f"database at revision {migrate.head_revision()}")

    @app.cli.command("worker")
    def worker():
        """Run the job worker until SIGTERM (on SQLite, one per database file)."""
        from service.jobs.worker import run_worker
        run_worker(current_app.extensions["cj_bridge"])

    @app.cli.command("register-webhooks")
    @click.argument("store_id", type=int)
    def register_webhooks(store_id: int):
        """Create the store's missing order webhooks now (WooCommerce), then print what was done."""
        from service.storage.database import transaction
        from service.jobs.outcomes import NeedsHuman
        from service.pipeline.store_setup import register_store_webhooks
        runtime = current_app.extensions["cj_bridge"]
        try:
            with transaction(runtime.session_factory) as session:
                result = register_store_webhooks(session, store_id=store_id, runtime=runtime)
        except NeedsHuman as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"created: {', '.join(result['created']) or 'none'}; "
                   f"reactivated: {', '.join(result['reactivated']) or 'none'}; "
                   f"already present: {', '.join(result['already_present']) or 'none'}")

    @app.cli.command("register-cj-webhooks")
    def register_cj_webhooks():
        """Point CJ's order and logistics webhooks at this deployment (needs PUBLIC_BASE_URL, https)."""
        from service.jobs.outcomes import NeedsHuman
        from service.pipeline.cj_webhook_setup import register_cj_webhooks as register
        from service.storage.database import transaction
        runtime = current_app.extensions["cj_bridge"]
        try:
            with transaction(runtime.session_factory) as session:
                result = register(session, runtime=runtime)
        except NeedsHuman as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"CJ webhooks: {result['outcome']} for topics {', '.join(result['topics'])}")

    @app.cli.command("reconcile")
    @click.option("--from", "start", required=True, help="first day, YYYY-MM-DD")
    @click.option("--to", "end", required=True, help="last day (included), YYYY-MM-DD")
    @click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
                  help="the CSV file to write")
    def reconcile_command(start: str, end: str, out: str):
        """Write the reconciliation of store revenue against CJ's charges for a period as CSV."""
        from datetime import date
        from service.pipeline.reconciliation import as_csv, reconcile
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            raise click.BadParameter("dates are YYYY-MM-DD") from None
        if last < first:
            raise click.BadParameter("--to is before --from")
        runtime = current_app.extensions["cj_bridge"]
        with runtime.session_factory() as session:
            report = reconcile(session, start=first, end=last)
        with open(out, "w", encoding="utf-8", newline="") as handle:
            handle.write(as_csv(report))
        flagged = sum(1 for row in report.rows if row["flags"])
        click.echo(f"{len(report.rows)} order(s), {flagged} flagged, written to {out}")
        if report.cj_orders_swept_at is None:
            click.echo("CJ's order list has not been read yet (the worker's daily sweep_cj_orders job): CJ orders "
                       "with no store order are not listed")

    @app.cli.command("resync-stock")
    @click.argument("store_id", type=int)
    def resync_stock(store_id: int):
        """Read CJ's stock of every mapped variant of a store again and write what the store should show."""
        from sqlalchemy import func, select
        from service.jobs.queue import claim
        from service.jobs.worker import run_job
        from service.pipeline import stock_sync
        from service.storage.models import SkuMapping, Store
        runtime = current_app.extensions["cj_bridge"]
        if runtime.settings.stock_sync == "off":
            raise click.ClickException("STOCK_SYNC is off: set it to on (or dry_run) first")
        with runtime.session_factory() as session:
            if session.get(Store, store_id) is None:
                raise click.ClickException(f"no store with id {store_id}")
            total = stock_sync.request_stock_reads(session, why="resync", store_id=store_id)
            session.commit()
        click.echo(f"store {store_id}: {total} mapping(s) to read from CJ and write")
        from service.jobs.sqlite_worker_lock import WorkerAlreadyRunning, take_sqlite_worker_lock

        def worker_lock():
            """One job's worth of the SQLite worker lock (held between jobs, it would keep the worker from
            starting); None when a worker runs, which then does the rest."""
            try:
                return take_sqlite_worker_lock(runtime.settings.database_url) or True
            except WorkerAlreadyRunning:
                return None
        probe = worker_lock()
        if probe is None:
            click.echo(f"the running worker reads and writes them (GET /admin/sku-mappings?store_id={store_id} "
                       "shows each mapping's progress)")
            return
        if probe is not True:
            probe.close()

        def left() -> tuple[int, int]:
            with runtime.session_factory() as session:
                mine = (SkuMapping.store_id == store_id, SkuMapping.self_stocked.is_(False))
                reads = session.scalar(select(func.count(SkuMapping.id)).where(
                    *mine, SkuMapping.stock_read_requested_at.is_not(None)))
                writes = session.scalar(select(func.count(SkuMapping.id)).where(
                    *mine, SkuMapping.want_why.is_not(None)))
                return reads or 0, writes or 0
        while True:
            lock = worker_lock()
            if lock is None:
                click.echo("a worker started: it does the rest")
                break
            try:
                job = claim(runtime.session_factory, worker_id="resync-stock",
                            lease_seconds=runtime.settings.job_lease_seconds)
                if job is None:
                    break
                status = run_job(runtime, job, worker_id="resync-stock")
            finally:
                if lock is not True:
                    lock.close()
            reads, writes = left()
            if job.kind in (stock_sync.READ_JOB, "write_store_stock"):
                click.echo(f"{job.kind} {status}: read {total - reads}/{total}, {writes} write(s) waiting")
            if not reads and not writes:
                break
        reads, writes = left()
        click.echo("done" if not reads and not writes else
                   f"{reads} read(s) and {writes} write(s) wait for a retry: the worker finishes them "
                   f"(GET /admin/sku-mappings?store_id={store_id} shows each mapping's stock and error)")

    @app.cli.command("run-jobs")
    @click.option("--max-jobs", default=1000, show_default=True)
    def run_jobs(max_jobs: int):
        """Run every due job once, then exit."""
        from service.jobs.worker import drain
        click.echo(f"ran {drain(current_app.extensions['cj_bridge'], max_jobs=max_jobs)} job(s)")
