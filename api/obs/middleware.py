"""One pure ASGI middleware that observes every HTTP request: metrics, then one log line."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.obs.logging import log_request
from api.obs.metrics import (
    METRICS_PATH,
    record_request,
    response_format,
    route_template,
    send_metrics,
)

VERSION_HEADER = b"x-dataset-version"


CLIENT_CLOSED = 499


class Observe:
    """Answer `/metrics`; count, time and log every other HTTP request once it is answered.

    Installed outside everything but the request id and proxy headers, so that refusals and
    last-resort errors are counted too; the router sets `scope["route"]` on the scope it is
    given, which every middleware passes on (HEAD-as-GET hands it back), so it is seen here.
    Bytes are counted as sent, after compression.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == METRICS_PATH:
            await send_metrics(scope, send)
            return
        started = time.perf_counter()
        method = scope["method"]  # before HEAD is run as GET
        status, fmt, size, version = 0, "other", 0, None
        gone = False  # the client left before an answer started

        async def observing_receive() -> Message:
            nonlocal gone
            message = await receive()
            gone = gone or message["type"] == "http.disconnect"
            return message

        async def observing_send(message: Message) -> None:
            nonlocal status, fmt, size, version
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = message.get("headers", ())
                fmt = response_format(headers)
                version = next(
                    (v.decode("latin-1") for k, v in headers if k.lower() == VERSION_HEADER), None
                )
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, observing_receive, observing_send)
        finally:
            if not status:
                # No answer started: 499 (nginx's "client closed request") when the client left
                # first, which stops a streamed export before its status line; else 500.
                status = CLIENT_CLOSED if gone else 500
            seconds = time.perf_counter() - started
            route = route_template(scope)
            record_request(
                method=method, route=route, status=status, fmt=fmt, size=size, seconds=seconds
            )
            log_request(
                scope,
                method=method,
                route=route,
                status=status,
                size=size,
                seconds=seconds,
                version=version,
            )
