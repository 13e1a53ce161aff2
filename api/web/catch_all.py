"""The innermost guard: an exception nothing else handled becomes a 500 problem document.

Starlette's own last resort sits outside every middleware, so its 500 would leave without CORS
headers or a request id. This one runs inside them; the traceback goes to the log only.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, plain
from api.web.problem import send_problem
from api.web.request_id import request_id_of

logger = logging.getLogger("opendata.errors")
INTERNAL_ERROR = (
    "the server met an unexpected error; it is logged under this request id, quote it when"
    " reporting the problem"
)


class CatchAll:
    """ASGI middleware: answer an unhandled exception with a 500 problem, and log it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if isinstance(exc, ApiError) and not started:
                await send_problem(scope, send, exc)
                return
            logger.exception(
                "unhandled error on %s %s (request %s)",
                scope["method"],
                plain(scope["path"], limit=500),
                request_id_of(scope),
            )
            if started:
                raise  # the status line is gone: the server must cut the response short
            await send_problem(scope, send, ApiError(INTERNAL_ERROR))
