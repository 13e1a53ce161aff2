"""HEAD answered as GET without a body, for link checkers and harvesters."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROUTER_KEYS = ("route", "endpoint", "path_params")


class HeadAsGet:
    """ASGI middleware: run HEAD requests as GET and send the headers only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        # A copy: the server must still see HEAD (it sends no body for it). What the router adds
        # (the route, the path parameters) is handed back, for the middleware outside.
        as_get = {**scope, "method": "GET"}
        try:
            await self.app(as_get, receive, send_headers_only)
        finally:
            for key in ROUTER_KEYS:
                if key in as_get:
                    scope[key] = as_get[key]
