"""The host a request was sent to: a trusted proxy's `X-Forwarded-Host`, and a Host check.

Links follow the request's host when ``OPENDATA_BASE_URL`` is unset, so a Host header is text a
client puts into every link. It is checked before any work (RFC 9112 section 3.2: a request with
an invalid Host, or several, is a 400) and only a trusted proxy may replace it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import BadHost
from api.metadata.urls import normal_host
from api.web.request_id import is_trusted


def forwarded_host(scope: Scope) -> str | None:
    """The host the nearest proxy was asked for: the last value of `X-Forwarded-Host`."""
    sent = [value for name, value in scope["headers"] if name == b"x-forwarded-host"]
    if not sent:
        return None
    values = [item.strip() for item in b",".join(sent).decode("latin-1").split(",")]
    return values[-1]


class ForwardedHost:
    """ASGI middleware: a trusted proxy's `X-Forwarded-Host` becomes the request's Host.

    The last value counts: it is the one the trusted proxy itself added. Run it before any
    middleware that rewrites the client address, so that the peer checked is the real one.
    """

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[str]) -> None:
        self.app = app
        self.trusted = [ipaddress.ip_network(item) for item in trusted_proxies]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope.get("client")
            host = forwarded_host(scope)
            if host is not None and is_trusted(client[0] if client else None, self.trusted):
                headers = [(n, v) for n, v in scope["headers"] if n != b"host"]
                scope["headers"] = [(b"host", host.encode("latin-1")), *headers]
        await self.app(scope, receive, send)


def host_refusal(scope: Scope) -> BadHost | None:
    """The problem with the request's Host header, or None when it names one server (or is
    absent, as HTTP/1.0 allows)."""
    hosts = [value for name, value in scope["headers"] if name == b"host"]
    if len(hosts) > 1:
        return BadHost(f"the request has {len(hosts)} Host headers; it must have one")
    if not hosts:
        return None
    if normal_host(hosts[0].decode("latin-1"), scope.get("scheme", "http")) is None:
        return BadHost(
            "the Host header does not name a server: a host name, an IPv4 address or a"
            " bracketed IPv6 address, and an optional port"
        )
    return None
