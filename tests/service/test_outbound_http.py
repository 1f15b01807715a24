"""Outbound HTTP: no credentials to private addresses or through redirects, no foreign bodies shown (issue 22, 6)."""
from __future__ import annotations

import http.server
import threading

import pytest

from adapters.base import call_store_api
from service.jobs.outcomes import NeedsHuman
from service.outbound_http import OutboundHttp, is_public_address, url_problem

STRONG = "Zx8-q2LmN4vR7tYp0wK3sJ6hG9fD1cB5aE"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802
        type(self).seen.append((self.path, self.headers.get("X-Token")))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/elsewhere")
            self.end_headers()
            return
        body = b"SECRET-INTRANET-PAGE"
        self.send_response(400 if self.path == "/refused" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    _Recorder.seen = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _call(http_client, url):
    return call_store_api(http_client, "GET", url, platform="Shop", operation="probe", auth_resolution="x",
                          default_retry_after=1.0, headers={"X-Token": "shpat-secret"})


def test_production_never_connects_to_a_private_address(local_server):
    with pytest.raises(NeedsHuman) as held:
        _call(OutboundHttp(timeout=5, public_only=True), f"{local_server}/anything")
    assert held.value.reason == "store_address_refused" and _Recorder.seen == []  # nothing was sent


def test_redirects_are_not_followed_with_credentials(local_server):
    with pytest.raises(NeedsHuman) as held:
        _call(OutboundHttp(timeout=5), f"{local_server}/redirect")
    assert "redirect" in str(held.value) and _Recorder.seen == [("/redirect", "shpat-secret")]


def test_a_refusal_is_reported_without_the_answers_body(local_server):
    with pytest.raises(NeedsHuman) as held:
        _call(OutboundHttp(timeout=5), f"{local_server}/refused")
    assert "HTTP 400" in str(held.value) and "SECRET-INTRANET-PAGE" not in str(held.value)


@pytest.mark.parametrize("address,public", [("8.8.8.8", True), ("127.0.0.1", False), ("10.1.2.3", False),
                                            ("169.254.169.254", False), ("::1", False), ("::ffff:10.0.0.1", False),
                                            ("100.64.0.1", False), ("2001:4860:4860::8888", True)])
def test_public_addresses(address, public):
    assert is_public_address(address) is public


def test_store_urls_must_be_https_to_public_hosts():
    assert url_problem("http://example.com") == "must be an https:// address"
    assert "private" in url_problem("https://127.0.0.1:8443/")
    assert "user name" in url_problem("https://user:pw@shop.example.com/")
    assert "does not resolve" in url_problem("https://no-such-host.invalid/")


def test_production_registration_refuses_private_and_foreign_addresses(make_app, tmp_path):
    token = STRONG[::-1]
    client = make_app(CJ_BRIDGE_ENV="production", SECRET_KEY=STRONG, ADMIN_TOKEN=token).test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def register(**fields):
        return client.post("/admin/stores", headers=headers, json={"webhook_secret": "s3cret-value", **fields})
    res = register(platform="shopify", shop_domain="evil.example.com")
    assert res.status_code == 400 and "myshopify.com" in res.get_json()["error"]["details"]["shop_domain"][0]
    res = register(platform="shopify", shop_domain="acme.myshopify.com", api_base_url="http://169.254.169.254")
    assert res.status_code == 400 and "api_base_url" in res.get_json()["error"]["details"]
    res = register(platform="woocommerce", site_url="https://127.0.0.1/")
    assert res.status_code == 400 and "private" in res.get_json()["error"]["details"]["site_url"][0]
