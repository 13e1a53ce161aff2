"""One log line per request: method, path, status, request id and duration."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import plain
from api.web.request_id import request_id_of

logger = logging.getLogger("opendata.access")
PATH_LIMIT = 500


class AccessLog:
    """ASGI middleware: log each request once it is answered (or has failed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the application fails before a status
        begun = time.perf_counter()

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            request_id = request_id_of(scope)
            path = plain(scope["path"], limit=PATH_LIMIT)
            milliseconds = (time.perf_counter() - begun) * 1000
            logger.info(
                "%s %s %d %.1fms request_id=%s",
                scope["method"],
                path,
                status,
                milliseconds,
                request_id,
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "duration_ms": round(milliseconds, 1),
                    "request_id": request_id,
                },
            )
