"""gunicorn settings shared by the Procfile, the Dockerfile and the dev runner."""
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 2048
max_requests_jitter = 128
accesslog = "-"
errorlog = "-"
