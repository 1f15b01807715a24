# CJ Bridge: one image, three entry points (release, web, worker) as in the Procfile.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PORT=8000 \
    CJ_BRIDGE_INSTANCE_PATH=/data CJ_BRIDGE_ENV=production
WORKDIR /app

COPY requirements.txt requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY service ./service
COPY webhooks ./webhooks
COPY adapters ./adapters
COPY Procfile ./

RUN useradd --create-home --uid 10001 bridge && mkdir -p /data && chown bridge /data
USER bridge
VOLUME ["/data"]
EXPOSE 8000

# The web process answers /healthz while it is alive (the worker container overrides this: it serves no HTTP).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=4)" || exit 1

# Default: the web process. Worker: `docker run IMAGE python -m service.jobs.worker`;
# migrations: `docker run IMAGE flask --app service.wsgi db-upgrade`.
CMD ["gunicorn", "--config", "service/gunicorn_conf.py", "service.wsgi:app"]
