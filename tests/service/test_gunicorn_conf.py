"""gunicorn settings: the web process's post-load hook."""
from __future__ import annotations

import gc
import importlib.util
import pathlib

import pytest

CONF = pathlib.Path(__file__).resolve().parents[2] / "service" / "gunicorn_conf.py"


@pytest.fixture(autouse=True)
def _own_metrics_folder(monkeypatch, tmp_path):
    # gunicorn_conf makes one when none is named; named here, so the test process's environment is restored.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))


def load_conf():
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", CONF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_loaded_web_process_freezes_what_it_built_at_import():
    conf = load_conf()
    assert conf.worker_class == "gevent"
    try:
        conf.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 0  # out of the collector's reach
    finally:
        gc.unfreeze()


STRONG = "k3Jq9vX2mP7wR4tY8zB1nC5dF6gH0sLa"


def test_development_listens_on_this_machine_only_and_production_everywhere(monkeypatch, tmp_path):
    """Issue 22 (2): a default start listened on 0.0.0.0 with the README's admin token."""
    monkeypatch.setenv("CJ_BRIDGE_INSTANCE_PATH", str(tmp_path))
    for name in ("HOST", "DATABASE_URL", "SECRET_KEY", "ADMIN_TOKEN", "CJ_API_KEY", "CJ_DRY_RUN", "CJ_AUTO_PAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.delenv("CJ_BRIDGE_ENV", raising=False)
    assert load_conf().bind == "127.0.0.1:8123"
    monkeypatch.setenv("CJ_BRIDGE_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/cj")
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.setenv("ADMIN_TOKEN", STRONG[::-1])
    assert load_conf().bind == "0.0.0.0:8123"
    monkeypatch.setenv("HOST", "10.0.0.5")
    assert load_conf().bind == "10.0.0.5:8123"


def test_every_production_entry_point_starts_in_production_mode():
    root = CONF.parents[1]
    for line in (root / "Procfile").read_text().splitlines():
        assert line.split(":", 1)[1].strip().startswith("CJ_BRIDGE_ENV=${CJ_BRIDGE_ENV:-production} "), line
    assert "CJ_BRIDGE_ENV=production" in (root / "Dockerfile").read_text()


def test_a_wrong_variable_stops_the_master_with_one_line(monkeypatch, tmp_path, capsys):
    """Issue 23 (3): a config error was a traceback in every worker, then "Worker failed to boot"."""
    monkeypatch.setenv("CJ_BRIDGE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CJ_AUTO_PAY", "maybe")
    try:
        load_conf()
    except SystemExit as stop:
        assert stop.code == 2
    else:
        raise AssertionError("the configuration was accepted")
    err = capsys.readouterr().err
    assert err.strip() == ("CJ Bridge cannot start: CJ_AUTO_PAY must be true or false (or 1/0, yes/no, on/off); "
                           "got 'maybe'")


class _Listener:
    def __str__(self):
        return "http://127.0.0.1:49152"


class _Server:
    LISTENERS = [_Listener()]


def test_the_ready_master_prints_where_it_listens_and_what_it_will_do(monkeypatch, tmp_path, capsys):
    """Issue 23 (2): ./run serve printed a fixed port and the token text, not what was bound."""
    monkeypatch.setenv("CJ_BRIDGE_INSTANCE_PATH", str(tmp_path))
    for name in ("DATABASE_URL", "ADMIN_TOKEN", "CJ_API_KEY", "CJ_DRY_RUN", "CJ_BRIDGE_ENV"):
        monkeypatch.delenv(name, raising=False)
    load_conf().when_ready(_Server())
    banner = capsys.readouterr().err
    assert "http://127.0.0.1:49152  (this machine only" in banner
    assert "Authorization: Bearer dev-admin-token" in banner
    assert "dry-run ON" in banner
    assert f"sqlite:///{tmp_path}/cj_bridge.sqlite3" in banner
