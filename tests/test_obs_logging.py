"""Request logs: one structured line per request with its id, package and version."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from api.config import Settings
from api.main import create_app
from api.obs.logging import ACCESS_LOGGER, JsonFormatter, log_config
from tests.helpers import BASE_URL, DATASETS, FLAGSHIP
from tests.serve_process import opendata_serve

ROWS_ROUTE = "/v1/datasets/{package}/{version}/{resource}"


@pytest.fixture
async def traced(flagship_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(flagship_settings)
    transport = httpx.ASGITransport(app=app)  # its client, 127.0.0.1, is a trusted proxy
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers={"X-Request-ID": "rid-123"}
        ) as http,
    ):
        yield http


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == ACCESS_LOGGER
    ]


@pytest.mark.anyio
async def test_one_line_per_request_with_its_fields(
    traced: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    path = f"/v1/datasets/{FLAGSHIP}/latest/figures.csv"
    response = await traced.get(path, headers={"Accept-Encoding": "identity"})
    missing = await traced.get("/no/such/page")
    (line, other) = access_lines(caplog)
    assert set(line) == {
        "time",
        "level",
        "logger",
        "message",
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
    }
    assert {k: v for k, v in line.items() if k not in ("time", "duration_ms", "message")} == {
        "level": "info",
        "logger": ACCESS_LOGGER,
        "method": "GET",
        "path": path,
        "query": "",
        "route": ROWS_ROUTE,
        "status": 200,
        "bytes": len(response.content),
        "request_id": "rid-123",
        "package": FLAGSHIP,
        "version": response.headers["x-dataset-version"],  # the concrete release of `latest`
    }
    assert str(line["message"]).startswith(f"GET {path} 200 ")
    assert other["status"] == missing.status_code == 404
    assert other["route"] == "<unmatched>"
    assert other["package"] is None and other["version"] is None


@pytest.mark.anyio
async def test_a_request_without_an_id_is_logged_with_the_one_made_for_it(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    response = await client.get("/healthz")
    (line,) = access_lines(caplog)
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["route"] == "/healthz"


def test_a_traceback_is_one_field_of_one_line() -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        record = logging.LogRecord(
            "uvicorn.error", logging.ERROR, __file__, 1, "boom", None, sys.exc_info()
        )
    text = JsonFormatter().format(record)
    assert "\n" not in text
    entry = json.loads(text)
    assert entry["message"] == "boom"
    assert entry["traceback"].startswith("Traceback (most recent call last):")
    assert entry["traceback"].rstrip().endswith("ZeroDivisionError: division by zero")


def test_text_on_a_terminal_json_elsewhere() -> None:
    def formatter(fmt: str, terminal: bool) -> object:
        return log_config(fmt, terminal=terminal)["formatters"]["main"]

    json_formatter = {"()": "api.obs.logging.JsonFormatter"}
    assert formatter("auto", terminal=False) == json_formatter
    assert formatter("json", terminal=True) == json_formatter
    assert "format" in formatter("auto", terminal=True)  # type: ignore[operator]
    assert "format" in formatter("text", terminal=False)  # type: ignore[operator]


@pytest.mark.slow
def test_a_served_request_is_one_json_line(flagship_url: str) -> None:
    """`opendata serve` writing to a file (not a terminal) logs JSON, one line per request."""
    with opendata_serve(flagship_url, datasets_dir=DATASETS, workers=2) as server:
        path = f"/v1/datasets/{FLAGSHIP}/1.2.0/metrics"
        assert httpx.get(f"{server.url}{path}").status_code == 200
        server.process.terminate()
        server.process.wait(60)
        lines = server.log.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # every line is JSON, server messages too
    requests = [e for e in entries if e["logger"] == ACCESS_LOGGER and e["path"] == path]
    assert len(requests) == 1
    assert requests[0]["status"] == 200
    assert requests[0]["version"] == "1.2.0"
    assert any(e["logger"].startswith("uvicorn") for e in entries)
    # No worker was taken for hung and restarted while it was still importing the service.
    assert not [e for e in entries if "died" in str(e["message"])]


@pytest.mark.anyio
async def test_a_client_gone_before_the_status_line_is_logged_499_not_500(
    flagship_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A streamed export stops when its client leaves first: nginx's 499, never a 500."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    app = create_app(flagship_settings)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/v1/datasets/{FLAGSHIP}/latest/figures.csv",
        "raw_path": f"/v1/datasets/{FLAGSHIP}/latest/figures.csv".encode(),
        "query_string": b"metric=foreigners_deported",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"accept-encoding", b"identity")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert [m for m in sent if m["type"] == "http.response.start"] == []
    (line,) = access_lines(caplog)
    assert line["status"] == 499
