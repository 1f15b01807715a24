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
