"""Outbound HTTP with a timeout on every call and one structured log line per call, no secrets.

In production every connection must reach a public address, checked on the connected socket itself (so a
name that resolves elsewhere by the time of the call is caught too), and no redirect is followed: a store's
address comes from the admin API, and credentials must never be sent to cloud metadata or an intranet host.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import time
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

log = logging.getLogger("cj_bridge.outbound")


class PrivateAddressRefused(OSError):
    """A connection reached (or would reach) an address that is not public: refused before anything is sent."""


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_problem(url: str) -> str | None:
    """Why a store address may not be called in production (https to public addresses only), or None."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "must be an https:// address"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname or "", parts.port or 443,
                                                               proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError):
        return f"names a host that does not resolve ({parts.hostname})"
    private = sorted(a for a in addresses if not is_public_address(a))
    if private:
        return f"resolves to a private or reserved address ({', '.join(private)})"
    return None


class _PublicOnly:
    def connect(self):
        super().connect()
        peer = self.sock.getpeername()[0]
        if not is_public_address(peer):
            self.sock.close()
            raise PrivateAddressRefused(f"refused to talk to {peer}: not a public address")


class _PublicHTTPConnection(_PublicOnly, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicOnly, HTTPSConnection):
    pass


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    """Connections only to public addresses, checked on the connected socket."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


def refused_private_address(exc: BaseException) -> bool:
    """Whether a requests error comes from PrivateAddressRefused (somewhere in its chain)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, PrivateAddressRefused):
            return True
        exc = exc.__context__ or exc.__cause__ or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException)
                                                   else getattr(exc, "reason", None))
    return False


class OutboundHttp:
    def __init__(self, *, timeout: float, session: requests.Session | None = None, public_only: bool = False):
        self.timeout = timeout
        self.session = session or requests.Session()
        if public_only:
            for prefix in ("http://", "https://"):
                self.session.mount(prefix, PublicOnlyAdapter())

    def request(self, method: str, url: str, *, service: str, operation: str, secret_path: bool = False,
                **kwargs) -> requests.Response:
        """secret_path: the URL's path is itself a secret (a Slack incoming-webhook URL): not logged."""
        kwargs.setdefault("timeout", self.timeout)
        # A redirect would resend the headers (a store's access token among them) to wherever it points.
        kwargs.setdefault("allow_redirects", False)
        started = time.monotonic()
        parts = urlsplit(url)
        path = "/…" if secret_path else parts.path
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            log.warning("outbound_call", extra={"fields": {
                "service": service, "operation": operation, "method": method, "host": parts.hostname,
                "path": path, "error": type(exc).__name__,
                "ms": round((time.monotonic() - started) * 1000, 1)}})
            raise
        log.info("outbound_call", extra={"fields": {
            "service": service, "operation": operation, "method": method, "host": parts.hostname,
            "path": path, "status": response.status_code,
            "ms": round((time.monotonic() - started) * 1000, 1)}})
        return response
