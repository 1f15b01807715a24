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

# Default: the web process. Worker: `docker run IMAGE python -m service.jobs.worker`;
# migrations: `docker run IMAGE flask --app service.wsgi db-upgrade`.
CMD ["gunicorn", "--config", "service/gunicorn_conf.py", "service.wsgi:app"]
