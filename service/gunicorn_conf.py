"""gunicorn settings shared by the Procfile, the Dockerfile and the dev runner."""
import os

_sqlite = not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql"))

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# SQLite takes one writer at a time: one process whose threads queue on an in-process lock beats
# several processes meeting in SQLite's sleeping busy handler (see bench/ingest.py in the README).
workers = int(os.environ.get("WEB_CONCURRENCY", "1" if _sqlite else "2"))
# Webhook intake is group-committed per process (service/delivery_writer.py): the more requests in
# flight, the fuller each batch. A waiting thread costs little, and SQLite's one process needs more of
# them (bench/ingest.py: 8 → 32 threads took SQLite from 929 to 1,141 req/s; PostgreSQL's two
# processes showed no difference between 8 and 16).
threads = int(os.environ.get("GUNICORN_THREADS", "32" if _sqlite else "8"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycling a worker costs an app import and drops its keep-alive connections; at 2,048 requests it
# happened every second or two under load (bench/ingest.py: read errors, p99 × 5, bare Flask at a third
# of its rate). A recycle per ~100k requests still bounds any slow leak.
max_requests = 100000
max_requests_jitter = 10000
accesslog = "-"
errorlog = "-"
