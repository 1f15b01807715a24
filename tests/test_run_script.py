"""./run serve: both processes stop together, one worker per SQLite file, a banner with what was bound."""
from __future__ import annotations

import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _env(tmp_path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CJ_", "DATABASE_URL", "SECRET_KEY", "ADMIN_TOKEN", "HOST", "TEST_DATABASE"))}
    # The running test environment's interpreter and packages: no install in the test.
    env.update({"VENV": sys.prefix, "PORT": str(port), "CJ_BRIDGE_INSTANCE_PATH": str(tmp_path),
                "PYTHONUNBUFFERED": "1"})
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie not yet reaped by init counts as gone.
    stat = pathlib.Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def _pids(text: str) -> tuple[int, int]:
    match = re.search(r"web pid (\d+), worker pid (\d+)", text)
    assert match, text
    return int(match.group(1)), int(match.group(2))


def _gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


@pytest.fixture(autouse=True)
def _stamp_the_test_environment():
    # ./run installs requirements.lock unless a stamp says it is in; the test environment has it (dev ⊇ runtime).
    import hashlib
    digest = hashlib.sha256((ROOT / "requirements.lock").read_bytes()).hexdigest()[:16]
    stamp = pathlib.Path(sys.prefix) / f".installed-{digest}"
    made = not stamp.exists()
    stamp.touch()
    yield
    if made:
        stamp.unlink()


def test_a_web_process_that_cannot_start_takes_the_worker_with_it(tmp_path):
    """Issue 23 (2): with the port taken, set -e ended the script before its cleanup; the worker ran on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = subprocess.run([str(ROOT / "run"), "serve"], cwd=ROOT, env=_env(tmp_path, taken.getsockname()[1]),
                              capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    _web, worker = _pids(done.stderr)
    assert _gone(worker), "the worker outlived ./run serve"


def test_a_second_serve_on_the_same_sqlite_file_is_refused_and_the_first_runs_on(tmp_path):
    first = subprocess.Popen([str(ROOT / "run"), "serve"], cwd=ROOT, env=_env(tmp_path, _free_port()),
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        seen = ""
        deadline = time.monotonic() + 60
        while not ("  database: " in seen and "worker pid" in seen) and time.monotonic() < deadline:
            seen += first.stderr.readline()
        assert "CJ Bridge is up (development mode)" in seen and "Bearer dev-admin-token" in seen
        assert f"sqlite:///{tmp_path}/cj_bridge.sqlite3" in seen
        web, worker = _pids(seen)

        second = subprocess.run([str(ROOT / "run"), "serve"], cwd=ROOT, env=_env(tmp_path, _free_port()),
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 3
        assert "another worker (pid" in second.stderr and "one worker per SQLite file" in second.stderr
        second_web, _ = _pids(second.stderr)
        assert _gone(second_web)
        assert _alive(web) and _alive(worker) and first.poll() is None

        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=30) == 0
        assert _gone(web) and _gone(worker)
    finally:
        if first.poll() is None:  # a failed assertion must not leave the service running
            os.killpg(first.pid, signal.SIGKILL)
