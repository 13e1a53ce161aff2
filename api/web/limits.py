"""Request size limits: header bytes, query-string length and parameter count, body bytes.

Each limit is refused with its own problem (431, 414, 400, 413) that names the size and the
limit and echoes nothing of the request. A body is measured by its Content-Length and again as
it is read, so a chunked body cannot slip past the limit. A malformed Host header is refused here
too, before any work (a 400 `bad-host`).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, HeadersTooLarge, PayloadTooLarge, QueryTooLong, TooManyParameters
from api.web.host import host_refusal
from api.web.problem import send_problem


@dataclass(frozen=True)
class Limits:
    """The largest request the service reads."""

    body_bytes: int
    header_bytes: int
    query_bytes: int
    query_params: int


def header_bytes(scope: Scope) -> int:
    """The total length of the request's header names and values."""
    return sum(len(name) + len(value) for name, value in scope["headers"])


def query_param_count(query: bytes) -> int:
    """How many parameters a raw query string holds (empty `&&` pieces are not parameters)."""
    return sum(1 for piece in query.split(b"&") if piece)


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when absent or not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def too_large_body(limit: int, size: int | None = None) -> PayloadTooLarge:
    """The 413 problem of a body over `limit` bytes (`size`, when it was declared)."""
    said = f"{size:,} bytes" if size is not None else "more bytes"
    details = {"limit": limit, **({"size": size} if size is not None else {})}
    return PayloadTooLarge(f"the request body has {said}; the limit is {limit:,}", details=details)


def refusal(scope: Scope, limits: Limits) -> ApiError | None:
    """The problem with the request line and headers, or None when they are within limits."""
    size = header_bytes(scope)
    if size > limits.header_bytes:
        return HeadersTooLarge(
            f"the request headers have {size:,} bytes; the limit is {limits.header_bytes:,}",
            details={"limit": limits.header_bytes, "size": size},
        )
    query: bytes = scope.get("query_string", b"")
    if len(query) > limits.query_bytes:
        return QueryTooLong(
            f"the query string has {len(query):,} bytes; the limit is {limits.query_bytes:,}",
            details={"limit": limits.query_bytes, "size": len(query)},
        )
    count = query_param_count(query)
    if count > limits.query_params:
        return TooManyParameters(
            f"the query has {count:,} parameters; the limit is {limits.query_params:,}",
            details={"limit": limits.query_params, "count": count},
        )
    declared = declared_length(scope)
    if declared is not None and declared > limits.body_bytes:
        return too_large_body(limits.body_bytes, declared)
    return host_refusal(scope)


class RequestLimits:
    """ASGI middleware: refuse a request over any of the limits before the application runs."""

    def __init__(self, app: ASGIApp, *, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = refusal(scope, self.limits)
        if refused is not None:
            await send_problem(scope, send, refused)
            return
        limit = self.limits.body_bytes
        read = 0
        over = started = False

        async def limited_receive() -> Message:
            nonlocal read, over
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    over = True
                    raise too_large_body(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # the application's answer to a cut body is replaced by the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not over or started:
                raise
        if over and not started:
            await send_problem(scope, send, too_large_body(limit))
