"""Prometheus metrics, served at `/metrics` by the observing middleware (`api.obs.middleware`).

Requests are counted per route template (`…/{package}/{version}/{resource}`), never per raw
path, so the number of series stays bounded whatever clients ask for. With several
worker processes, `opendata serve` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder (see
`multiprocess_dir`) and every worker's samples are summed in each scrape.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    write_to_textfile,
)
from prometheus_client.multiprocess import MultiProcessCollector

T = TypeVar("T")
# The ASGI shapes (as starlette.types spells them), so that the database layer, which counts
# query timeouts here, imports no HTTP framework.
Scope = MutableMapping[str, Any]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

METRICS_PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own switch to multiprocess mode
UNMATCHED = "<unmatched>"  # the route label of a request that matched no route (a 404)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LOAD_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

REQUESTS = Counter(
    "opendata_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "opendata_http_request_duration_seconds",
    "Time from the request to the last byte of the response, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
RESPONSE_BYTES = Counter(
    "opendata_response_bytes",
    "Response body bytes as sent (after compression), by format.",
    ["format"],
)
ROWS_SERVED = Counter("opendata_rows_served", "Data rows sent to clients, by format.", ["format"])
QUERY_TIMEOUTS = Counter(
    "opendata_query_timeouts", "Queries stopped by OPENDATA_QUERY_TIMEOUT_SECONDS."
)
LOAD_DURATION = Histogram(
    "opendata_load_duration_seconds",
    "Time to validate and load one release, by package.",
    ["package"],
    buckets=LOAD_BUCKETS,
)
ROWS_LOADED = Counter(
    "opendata_rows_loaded", "Rows loaded into the database, by package.", ["package"]
)

# The format label of a response, from its media type; anything else is `other`.
FORMATS = {
    "application/json": "json",
    "application/problem+json": "problem",
    "application/ld+json": "jsonld",
    "text/csv": "csv",
    "application/x-ndjson": "ndjson",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/zip": "zip",
    "text/html": "html",
    "text/turtle": "turtle",
    "application/rdf+xml": "rdfxml",
    "application/xml": "xml",
    "text/plain": "text",
}


def response_format(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The format label of a response, from its `Content-Type` header."""
    for name, value in headers:
        if name.lower() == b"content-type":
            media_type = value.decode("latin-1").split(";")[0].strip().lower()
            return FORMATS.get(media_type, "other")
    return "other"


def route_template(scope: Scope) -> str:
    """The path format of the route that answered (`scope["route"]`), or UNMATCHED."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNMATCHED


ROW_COUNT_STEP = 1000  # rows counted at once: one counter update per row would slow an export


def count_rows(fmt: str, rows: Iterable[T]) -> Iterator[T]:
    """Yield `rows`, counting them as served in `fmt` (also when the stream stops early)."""
    counter = ROWS_SERVED.labels(fmt)
    pending = 0
    try:
        for row in rows:
            pending += 1
            if pending == ROW_COUNT_STEP:
                counter.inc(pending)
                pending = 0
            yield row
    finally:
        counter.inc(pending)


def count_batches(fmt: str, batches: Iterable[list[T]]) -> Iterator[list[T]]:
    """Yield batches of rows, counting their rows as served in `fmt`."""
    counter = ROWS_SERVED.labels(fmt)
    for batch in batches:
        counter.inc(len(batch))
        yield batch


def record_request(
    *, method: str, route: str, status: int, fmt: str, size: int, seconds: float
) -> None:
    """Count one answered request, its time and its body bytes."""
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)
    RESPONSE_BYTES.labels(fmt).inc(size)


def record_load(package: str, *, rows: int, seconds: float) -> None:
    """Count a release just loaded: its rows and the time it took."""
    LOAD_DURATION.labels(package).observe(seconds)
    ROWS_LOADED.labels(package).inc(rows)


def write_textfile(path: Path) -> None:
    """Write this process's metrics to `path` for a textfile collector (a one-shot load)."""
    write_to_textfile(str(path), REGISTRY)


def exposition() -> bytes:
    """Every metric in the Prometheus text format, summed over the workers in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@contextmanager
def multiprocess_dir(workers: int) -> Iterator[Path | None]:
    """Set up ``PROMETHEUS_MULTIPROC_DIR`` for a server of `workers` processes.

    A folder already named by the variable is emptied (samples of a previous run would be
    summed in); with several workers and none named, a fresh one is made and removed at the end.
    """
    named = os.environ.get(MULTIPROC_ENV)
    if named:
        folder = Path(named)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield folder
        return
    if workers <= 1:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="opendata-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    try:
        yield folder
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(folder, ignore_errors=True)


async def send_metrics(scope: Scope, send: Send) -> None:
    """Answer a scrape with the exposition."""
    body = await anyio.to_thread.run_sync(exposition)
    headers = [
        (b"content-type", CONTENT_TYPE_LATEST.encode("latin-1")),
        (b"content-length", str(len(body)).encode("latin-1")),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
