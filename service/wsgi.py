"""WSGI entry point for gunicorn and the Flask CLI: `gunicorn service.wsgi:app`, `flask --app service.wsgi …`."""
from service.app import create_app
from service.config import ConfigError, exit_for_config_error

try:
    app = create_app()
except ConfigError as exc:
    exit_for_config_error(exc)
