"""gunicorn settings shared by the Procfile, the Dockerfile and the dev runner."""
import gc
import os
import sys

from service.config import ConfigError, exit_for_config_error, load_settings

# Checked here, in the master before it binds: a wrong variable is one line and exit code 2, not a
# traceback in every worker process followed by gunicorn's "Worker failed to boot".
try:
    _settings = load_settings()
except ConfigError as _exc:
    exit_for_config_error(_exc)

_sqlite = _settings.database_url.startswith("sqlite")

# Development (the quick start, with its published admin token) listens on this machine only; production
# (the Docker image, the Procfile) on every interface. HOST overrides either.
bind = f"{os.environ.get('HOST') or ('0.0.0.0' if _settings.production else '127.0.0.1')}:" \
       f"{os.environ.get('PORT', '8000')}"
# SQLite takes one writer at a time: one process whose requests queue on an in-process lock beats
# several processes meeting in SQLite's sleeping busy handler (see bench/ingest.py in the README).
workers = int(os.environ.get("WEB_CONCURRENCY", "1" if _sqlite else "2"))
# gevent: each request is a greenlet in one thread per process. With gthread, request threads and the
# intake writer handed the GIL to each other on every delivery, which (bench/ingest.py, 2 cores) cost
# more CPU than the request itself: gevent doubled the service's throughput (PostgreSQL 530 → 1,130
# req/s, SQLite 360 → 640). psycopg 3 cooperates with gevent by itself; the worker process
# (service/jobs/worker.py) is not a gunicorn process and keeps its threads.
worker_class = "gevent"
# Requests in flight per process: the intake writer commits all of them in one batch under load.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycling a worker costs an app import and drops its keep-alive connections; at 2,048 requests it
# happened every second or two under load (bench/ingest.py: read errors, p99 × 5, bare Flask at a third
# of its rate). A recycle per ~100k requests still bounds any slow leak.
max_requests = 100000
max_requests_jitter = 10000
accesslog = "-"
# One JSON line per request with its request id (service/observability/access_log.py).
logger_class = "service.observability.access_log.JsonAccessLogger"
errorlog = "-"


# prometheus-client's multiprocess mode: every web process writes its counters into one folder, and a scrape
# answered by any of them adds them all up. A folder of this master's own unless the operator names one.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cjbridge-metrics-")


def child_exit(server, worker):
    """A web process ended: its live gauges go (its counters stay counted)."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def when_ready(server):
    """Called in the master once it listens: say where, with what token, and whether orders reach CJ."""
    from service.observability.start_banner import start_banner
    print("\n".join(start_banner(_settings, listeners=[str(listener) for listener in server.LISTENERS])),
          file=sys.stderr, flush=True)


def post_worker_init(worker):
    """Called once the app is loaded in a web process."""
    # What the app built at import (modules, Flask, SQLAlchemy metadata) lives as long as the process.
    # Frozen, the collector no longer walks it: a full collection under load paused the whole process
    # for 85–132 ms, now 3–7 ms (bench/ingest.py, p99 141–150 → 122–148 ms).
    gc.collect()
    gc.freeze()
