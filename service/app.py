"""Flask application factory (flaskr style): create_app(test_config)."""
from __future__ import annotations

from flask import Flask

from service.web.json_api import register_error_handlers
from service.config import load_settings
from service.runtime import build_runtime
from service.observability.structured_logging import configure_logging


def create_app(test_config: dict | None = None) -> Flask:
    """Build the web app. test_config may hold 'ENV' (a mapping used instead of os.environ)."""
    test_config = test_config or {}
    settings = load_settings(test_config.get("ENV"))
    # The instance folder is the configured data path (CJ_BRIDGE_INSTANCE_PATH), never a folder beside the
    # code: in the Docker image the code is root's and read-only to the service's user. Nothing is created
    # here; the SQLite default creates its folder itself (service/config.py).
    app = Flask(__name__, instance_path=settings.instance_path)
    configure_logging(settings.log_level)
    app.config.update(settings.as_flask_config())
    app.config.update({k: v for k, v in test_config.items() if k != "ENV"})
    app.json.sort_keys = False
    app.extensions["cj_bridge"] = build_runtime(settings, session_factory=test_config.get("SESSION_FACTORY"))

    register_error_handlers(app)
    from service.web.request_id import register_request_id
    register_request_id(app)
    from service.web.admin import bp as admin_bp
    from service.web.health import bp as health_bp
    from service.web.home import bp as home_bp
    from service.web.metrics import bp as metrics_bp
    from service.web.ui import register_admin_ui
    from webhooks import bp as webhooks_bp
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(metrics_bp)
    register_admin_ui(app)  # the admin page, and the session cookie only it uses
    from service.cli import register_cli
    register_cli(app)
    return app
