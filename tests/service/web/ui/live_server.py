"""The real app served on 127.0.0.1 (a free port) in a thread, for a browser to drive; and the browser itself."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
REQUIRE_BROWSER = "CJ_BRIDGE_REQUIRE_BROWSER"


@contextmanager
def serving(app):
    """Yields the base URL; one request at a time, as the test database's sessions expect."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, name="ui-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def chromium_or_skip():
    """Playwright's sync API, with Debian's chromium; skipped when absent, unless CJ_BRIDGE_REQUIRE_BROWSER=1."""
    required = os.environ.get(REQUIRE_BROWSER) == "1"
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright is not installed (requirements-dev.txt)"
    if problem is None and not os.access(CHROMIUM, os.X_OK):
        problem = f"{CHROMIUM} is missing: apt-get install -y chromium"
    if problem:
        if required:
            pytest.fail(f"browser tests required ({REQUIRE_BROWSER}=1) but {problem}")
        pytest.skip(f"browser tests skipped: {problem} (set {REQUIRE_BROWSER}=1 to make this a failure)")
    return sync_playwright
