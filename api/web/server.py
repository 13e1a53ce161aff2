"""How uvicorn serves the application: its HTTP parser, the bound on a request head, logging,
shutdown."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from api.config import Settings
from api.obs.logging import log_config

# Room in a request head beyond the header and query limits: the method, the path, the HTTP
# version and the `: ` and CRLF around each header.
HEAD_SLACK_BYTES = 16_384


class HttpParser(StrEnum):
    """uvicorn's HTTP/1.1 parsers: h11 bounds the request head, httptools is faster."""

    h11 = "h11"
    httptools = "httptools"


def head_limit(settings: Settings) -> int:
    """The most bytes of a request head the server buffers before it drops the connection."""
    return settings.max_header_bytes + settings.max_query_bytes + HEAD_SLACK_BYTES


def server_options(
    settings: Settings, *, parser: HttpParser = HttpParser.h11, terminal: bool = False
) -> dict[str, Any]:
    """Keyword arguments of `uvicorn.run` for serving `api.asgi:app`.

    The h11 parser by default, because it bounds the request head (httptools buffers a header
    of any size: choose it only behind a proxy that bounds headers); no proxy-header handling
    in uvicorn, because the application does it itself, with the same trusted proxies it takes
    request ids from; the application's access log (JSON off a terminal) replaces uvicorn's;
    running requests get the grace period to finish on SIGTERM.
    """
    return {
        "http": parser.value,
        "h11_max_incomplete_event_size": head_limit(settings),
        "proxy_headers": False,
        "access_log": False,
        "log_config": log_config(settings.log_format, terminal=terminal),
        "timeout_graceful_shutdown": settings.graceful_shutdown_seconds,
    }
