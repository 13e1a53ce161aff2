"""Request logs: one JSON line per request (tracebacks as one field), readable on a terminal.

`log_config` is the `logging.config.dictConfig` that `opendata serve` hands to uvicorn, for the
server's own messages and the `opendata.access` lines alike; uvicorn's access log is replaced by
`log_request`, called once per request by the observing middleware.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import Scope

from api.errors import plain

ACCESS_LOGGER = "opendata.access"
REQUEST_FIELDS = (
    "method",
    "path",
    "query",
    "route",
    "status",
    "duration_ms",
    "bytes",
    "request_id",
    "package",
    "version",
)
LOG_FORMATS = ("auto", "json", "text")

access_logger = logging.getLogger(ACCESS_LOGGER)
PATH_LIMIT = 500  # characters of a path in a log line
QUERY_LIMIT = 2000  # characters of a query string (as sent, percent-encoded) in a log line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode("utf-8")


def log_config(log_format: str, *, terminal: bool, level: str = "INFO") -> dict[str, Any]:
    """The logging configuration of a server: JSON, or text when `auto` writes to a terminal."""
    as_json = log_format == "json" or (log_format == "auto" and not terminal)
    formatter: dict[str, Any] = (
        {"()": "api.obs.logging.JsonFormatter"}
        if as_json
        else {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    logger = {"handlers": ["main"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "loggers": {
            "uvicorn": logger,
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "opendata": logger,
        },
    }


def log_request(
    scope: Scope,
    *,
    method: str,
    route: str,
    status: int,
    size: int,
    seconds: float,
    version: str | None,
) -> None:
    """Log one answered request with its fields (request id, package and version if known)."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    params = scope.get("path_params") or {}
    state = scope.get("state") or {}
    fields: dict[str, Any] = {
        "method": method,
        "path": plain(scope["path"], limit=PATH_LIMIT),
        "query": plain(scope.get("query_string", b"").decode("latin-1"), limit=QUERY_LIMIT),
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "bytes": size,
        "request_id": state.get("request_id"),
        "package": params.get("package"),
        "version": version or params.get("version"),
    }
    access_logger.info(
        "%s %s %d %.1fms %dB request_id=%s",
        fields["method"],
        fields["path"],
        status,
        fields["duration_ms"],
        size,
        fields["request_id"],
        extra=fields,
    )
