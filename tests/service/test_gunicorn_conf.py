"""gunicorn settings: the web process's post-load hook."""
from __future__ import annotations

import gc
import importlib.util
import pathlib

CONF = pathlib.Path(__file__).resolve().parents[2] / "service" / "gunicorn_conf.py"


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


def test_development_listens_on_this_machine_only_and_production_everywhere(monkeypatch):
    """Issue 22 (2): a default start listened on 0.0.0.0 with the README's admin token."""
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.delenv("CJ_BRIDGE_ENV", raising=False)
    assert load_conf().bind == "127.0.0.1:8123"
    monkeypatch.setenv("CJ_BRIDGE_ENV", "production")
    assert load_conf().bind == "0.0.0.0:8123"
    monkeypatch.setenv("HOST", "10.0.0.5")
    assert load_conf().bind == "10.0.0.5:8123"


def test_every_production_entry_point_starts_in_production_mode():
    root = CONF.parents[1]
    for line in (root / "Procfile").read_text().splitlines():
        assert line.split(":", 1)[1].strip().startswith("CJ_BRIDGE_ENV=${CJ_BRIDGE_ENV:-production} "), line
    assert "CJ_BRIDGE_ENV=production" in (root / "Dockerfile").read_text()
