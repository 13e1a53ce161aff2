"""CORS, with a refused preflight answered as a problem document rather than plain text."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from api.errors import CorsRefused, quoted
from api.web.problem import send_problem

_DROPPED = {"content-type", "content-length"}


class ProblemCors(CORSMiddleware):
    """Starlette's CORS middleware; a refused preflight is a 400 `cors-refused` problem."""

    def refusal(self, headers: Headers, failures: list[str]) -> CorsRefused:
        """The problem naming what a refused preflight asked for and what is allowed."""
        asked = {
            "origin": f"origin {quoted(headers.get('origin', ''))}",
            "method": f"method {quoted(headers.get('access-control-request-method', ''))}"
            f" (allowed: {', '.join(self.allow_methods)})",
            "headers": f"headers {quoted(headers.get('access-control-request-headers', ''))}",
            "private-network": "private network access",
        }
        named = [asked.get(failure, quoted(failure)) for failure in failures]
        return CorsRefused(
            f"the preflight asks for what this API does not allow: {'; '.join(named)}",
            details={"refused": failures},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await super().__call__(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "origin" not in headers or "access-control-request-method" not in headers:
            await super().__call__(scope, receive, send)
            return
        response = self.preflight_response(request_headers=headers)
        if response.status_code < 400:
            await response(scope, receive, send)
            return
        text = bytes(response.body).decode("latin-1")
        failures = text.removeprefix("Disallowed CORS ").split(", ")
        error = self.refusal(headers, failures)
        kept = {k: v for k, v in response.headers.items() if k.lower() not in _DROPPED}

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message["headers"],
                    *((k.encode("latin-1"), v.encode("latin-1")) for k, v in kept.items()),
                ]
            await send(message)

        await send_problem(scope, send_with_cors, error)
