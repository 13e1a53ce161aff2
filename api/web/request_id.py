"""A request id for every request: taken from a trusted proxy or made here, and sent back.

The id is stored as ``scope["state"]["request_id"]``: logging, metrics and problem documents
read it from there.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
STATE_KEY = "request_id"
MAX_LENGTH = 128
# Visible ASCII only: an id is written into log lines and headers as it is.
_VALID = re.compile(rf"[\x21-\x7e]{{1,{MAX_LENGTH}}}")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def request_id_of(scope: Scope) -> str | None:
    """The id of the request `scope` belongs to, once the middleware has given it one."""
    state = scope.get("state")
    found = state.get(STATE_KEY) if isinstance(state, dict) else None
    return found if isinstance(found, str) else None


def new_request_id() -> str:
    """A fresh request id: 32 hex digits of a random UUID."""
    return uuid.uuid4().hex


def valid_request_id(value: str) -> bool:
    """Whether a client-sent id may be kept: 1 to 128 visible ASCII characters."""
    return _VALID.fullmatch(value) is not None


def is_trusted(host: str | None, networks: Sequence[Network]) -> bool:
    """Whether the peer address `host` lies in one of the trusted networks."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


class RequestId:
    """ASGI middleware: give each request an id, store it in the scope, return it as a header.

    An ``X-Request-ID`` sent by a trusted proxy is kept when it is valid (one header, 1 to 128
    visible ASCII characters); any other request gets a new id. Run it outermost, before any
    middleware that rewrites the client address, so that the peer checked is the real one.
    """

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[str]) -> None:
        self.app = app
        self.trusted = [ipaddress.ip_network(item) for item in trusted_proxies]

    def _sent_by_proxy(self, scope: Scope) -> str | None:
        client = scope.get("client")
        if not is_trusted(client[0] if client else None, self.trusted):
            return None
        sent = [value for name, value in scope["headers"] if name == b"x-request-id"]
        if len(sent) != 1:
            return None
        value = sent[0].decode("latin-1")
        return value if valid_request_id(value) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._sent_by_proxy(scope) or new_request_id()
        scope.setdefault("state", {})[STATE_KEY] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
