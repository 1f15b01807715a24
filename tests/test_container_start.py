"""The app starts as the Docker image starts it: production mode, code in a read-only folder, data elsewhere.

The image runs as a non-root user that cannot write beside the code (issue 23, 1): creating Flask's instance
folder there made the web process and the release command fail. Here the code is a read-only bind mount (a
mount namespace of this test's own), which no user, root included, can write to.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
STRONG = "Zx8-q2LmN4vR7tYp0wK3sJ6hG9fD1cB5aE"
SCRIPT = """
import os
from service.storage.migrate import upgrade
upgrade(os.environ["DATABASE_URL"])                      # the release command
from service.wsgi import app                             # the web process
assert app.test_client().get("/healthz").status_code == 200
import service.jobs.worker                               # the worker process
print("started")
"""


def _read_only_mounts_work(tmp_path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    result = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {probe} {probe} && "
                             f"mount -o remount,ro,bind {probe} {probe} && ! touch {probe}/f"],
                            capture_output=True)
    return result.returncode == 0


def test_the_app_starts_from_a_read_only_code_folder(tmp_path):
    if shutil.which("unshare") is None or not _read_only_mounts_work(tmp_path):
        pytest.skip("no mount namespaces here to make a read-only folder")
    app, data = tmp_path / "app", tmp_path / "data"
    app.mkdir()
    data.mkdir()
    for folder in ("service", "webhooks", "adapters"):
        shutil.copytree(ROOT / folder, app / folder, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "CJ_BRIDGE_ENV": "production", "SECRET_KEY": STRONG, "ADMIN_TOKEN": STRONG[::-1],
           "DATABASE_URL": f"sqlite:///{data}/cj_bridge.sqlite3", "CJ_BRIDGE_INSTANCE_PATH": str(data),
           "PYTHONDONTWRITEBYTECODE": "1", "LOG_LEVEL": "WARNING"}
    env.pop("TEST_DATABASE_URL", None)
    command = (f"mount --bind {app} {app} && mount -o remount,ro,bind {app} {app} && cd {app} && "
               f"exec {sys.executable} -c '{SCRIPT}'")
    result = subprocess.run(["unshare", "-m", "sh", "-c", command], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "started" in result.stdout, result.stderr[-2000:]
    assert not (app / "instance").exists() and (data / "cj_bridge.sqlite3").exists()
