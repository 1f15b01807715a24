"""Configuration from the environment, parsed in one place."""
from __future__ import annotations

import pytest

from service.config import CJ_PRODUCTION_BASE_URL, ConfigError, load_settings


def test_defaults_run_with_no_account_anywhere(tmp_path):
    s = load_settings({}, instance_path=str(tmp_path))
    assert s.database_url == f"sqlite:///{tmp_path}/cj_bridge.sqlite3"
    assert s.cj_dry_run is True and s.cj_auto_pay is False
    assert s.cj_qps is None  # the account's own qpsLimit once read, 1 until then
    assert s.cj_api_base_url == CJ_PRODUCTION_BASE_URL and s.shopify_api_version == "2026-10"


def test_heroku_postgres_url_is_accepted(tmp_path):
    s = load_settings({"DATABASE_URL": "postgres://u:p@db:5432/app"}, instance_path=str(tmp_path))
    assert s.database_url == "postgresql+psycopg://u:p@db:5432/app"


def test_production_names_the_missing_secrets(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings({"CJ_BRIDGE_ENV": "production", "DATABASE_URL": "postgres://x/y"}, instance_path=str(tmp_path))
    assert "SECRET_KEY" in str(err.value) and "ADMIN_TOKEN" in str(err.value)


def test_a_key_turns_dry_run_off_by_default(tmp_path):
    assert load_settings({"CJ_API_KEY": "k"}, instance_path=str(tmp_path)).cj_dry_run is False


@pytest.mark.parametrize("env,needle", [({"CJ_QPS": "fast"}, "CJ_QPS"), ({"CJ_QPS": "0"}, "CJ_QPS"),
                                        ({"CJ_AUTO_PAY": "maybe"}, "CJ_AUTO_PAY"),
                                        ({"CJ_DRY_RUN": "false"}, "CJ_API_KEY"),
                                        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
                                        ({"MAX_WEBHOOK_BYTES": "-5"}, "MAX_WEBHOOK_BYTES")])
def test_bad_values_fail_with_the_variable_named(tmp_path, env, needle):
    with pytest.raises(ConfigError) as err:
        load_settings(env, instance_path=str(tmp_path))
    assert needle in str(err.value)


def test_production_start_fails_loudly(tmp_path, monkeypatch):
    from service.app import create_app
    with pytest.raises(ConfigError):
        create_app({"ENV": {"CJ_BRIDGE_ENV": "production"}})


def test_instance_path_variable_wins_so_web_and_worker_share_the_sqlite_file(tmp_path):
    data = tmp_path / "data"
    web = load_settings({"CJ_BRIDGE_INSTANCE_PATH": str(data)}, instance_path=str(tmp_path / "flask-instance"))
    worker = load_settings({"CJ_BRIDGE_INSTANCE_PATH": str(data)})
    assert web.database_url == worker.database_url == f"sqlite:///{data}/cj_bridge.sqlite3"


STRONG = "Zx8-q2LmN4vR7tYp0wK3sJ6hG9fD1cB5aE"


@pytest.mark.parametrize("secret,admin,needle", [
    ("dev-secret-key-change-me", STRONG, "SECRET_KEY is a published example value"),
    (STRONG, "dev-admin-token", "ADMIN_TOKEN is a published example value"),
    (STRONG, "short-token-0123456789", "ADMIN_TOKEN is shorter than 32"),
    ("a" * 40, STRONG, "SECRET_KEY repeats too few characters")])
def test_production_refuses_weak_or_published_secrets(tmp_path, secret, admin, needle):
    """Issue 22 (2): production accepted a 16-character key and any admin token, the README's included."""
    with pytest.raises(ConfigError) as err:
        load_settings({"CJ_BRIDGE_ENV": "production", "DATABASE_URL": "postgres://x/y", "SECRET_KEY": secret,
                       "ADMIN_TOKEN": admin}, instance_path=str(tmp_path))
    assert needle in str(err.value) and "secrets.token_urlsafe" in str(err.value)
    assert STRONG not in str(err.value)  # a secret is never echoed


def test_production_starts_with_strong_secrets(tmp_path):
    s = load_settings({"CJ_BRIDGE_ENV": "production", "DATABASE_URL": "postgres://x/y", "SECRET_KEY": STRONG,
                       "ADMIN_TOKEN": STRONG[::-1]}, instance_path=str(tmp_path))
    assert s.production


@pytest.mark.parametrize("value", ["prod", "Production-EU", "staging", "dev"])
def test_an_unknown_environment_is_an_error_not_development(tmp_path, value):
    with pytest.raises(ConfigError) as err:
        load_settings({"CJ_BRIDGE_ENV": value}, instance_path=str(tmp_path))
    assert "CJ_BRIDGE_ENV must be one of development, production" in str(err.value)


@pytest.mark.parametrize("name", ["CJ_DRY_RUN", "CJ_AUTO_PAY"])
def test_each_boolean_names_itself(tmp_path, name):
    """Issue 23 (3): both booleans were reported as "CJ_DRY_RUN/CJ_AUTO_PAY", whichever was wrong."""
    other = {"CJ_DRY_RUN": "CJ_AUTO_PAY", "CJ_AUTO_PAY": "CJ_DRY_RUN"}[name]
    with pytest.raises(ConfigError) as err:
        load_settings({name: "perhaps", "CJ_API_KEY": "k"}, instance_path=str(tmp_path))
    assert str(err.value).startswith(f"{name} must be true or false") and other not in str(err.value)


ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [
    ["-m", "service.jobs.worker"],
    ["-m", "flask", "--app", "service.wsgi", "db-upgrade"],
    ["-c", "import service.wsgi"]])
def test_every_entry_point_reports_a_config_error_in_one_line(tmp_path, command):
    """Issue 23 (3): a wrong variable printed a traceback (worker, CLI, web) instead of the variable and the fix."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CJ_", "SECRET_KEY", "ADMIN_TOKEN"))}
    env.update({"CJ_BRIDGE_ENV": "prod", "CJ_BRIDGE_INSTANCE_PATH": str(tmp_path)})
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "CJ Bridge cannot start: CJ_BRIDGE_ENV must be one of development, production; got 'prod'"]
