"""Security headers: a Content-Security-Policy on HTML, nosniff, referrer and frame policies."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def render_policy(directives: dict[str, str]) -> str:
    """A CSP header value from a table of directives."""
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


# The pages: scripts and styles are same-origin files only (the JSON-LD block is data, not
# script); no inline script or style element, no style attribute.
PAGE_POLICY: dict[str, str] = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Swagger UI, served from the installed package and started by a static file: it sets inline
# styles and uses data: images, but runs no inline script.
DOCS_POLICY: dict[str, str] = {
    **PAGE_POLICY,
    "style-src": "'self' 'unsafe-inline'",
}
# HTML path prefixes with their own policy; every other HTML response gets PAGE_POLICY.
POLICIES: dict[str, dict[str, str]] = {"/docs": DOCS_POLICY}
# Paths that may be framed by any site: the chart widgets.
FRAMEABLE_PREFIXES: tuple[str, ...] = ("/embed/",)

ALWAYS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def policy_for(path: str, *, frameable: bool) -> str:
    """The Content-Security-Policy of an HTML response at `path`."""
    directives = next(
        (policy for prefix, policy in POLICIES.items() if path.startswith(prefix)), PAGE_POLICY
    )
    if frameable:
        directives = {**directives, "frame-ancestors": "*"}
    return render_policy(directives)


class SecurityHeaders:
    """ASGI middleware: add the security headers to every response.

    Every response gets ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``; HTML gets
    a ``Content-Security-Policy``. Nothing may be framed (``frame-ancestors 'none'`` and
    ``X-Frame-Options: DENY``) except paths under `frameable_prefixes`.
    """

    def __init__(
        self, app: ASGIApp, *, frameable_prefixes: Sequence[str] = FRAMEABLE_PREFIXES
    ) -> None:
        self.app = app
        self.frameable_prefixes = tuple(frameable_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        frameable = path.startswith(self.frameable_prefixes) if self.frameable_prefixes else False

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                if not frameable:
                    headers["X-Frame-Options"] = "DENY"
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = policy_for(path, frameable=frameable)
            await send(message)

        await self.app(scope, receive, send_with_headers)
