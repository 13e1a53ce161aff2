"""Request size limits: headers (431), query length (414) and count (400), body (413).

Each refusal is a problem document naming the size and the limit, with CORS headers and the
request id, and echoing nothing of what was sent. A live `opendata serve` also drops a request
head far beyond the header limit before the application sees it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.config import Settings
from api.main import create_app
from api.web.server import head_limit
from tests.helpers import BASE_URL, DATASETS, FLAGSHIP, ROOT
from tests.problem_body import problem_body

pytestmark = pytest.mark.anyio
PROBLEM_JSON = "application/problem+json"
ROWS = f"/v1/datasets/{FLAGSHIP}/1.2.0/figures"
SEARCH = "/api/3/action/package_search"
ORIGIN = {"Origin": "https://newsroom.example"}
MIB = 1_048_576


async def limited_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client,
    ):
        yield client


@pytest.fixture
async def small(flagship_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose limits are small."""
    settings = flagship_settings.model_copy(
        update={"max_body_bytes": 100, "max_query_params": 3, "max_query_bytes": 256}
    )
    async for client in limited_client(settings):
        yield client


def assert_refused(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    """A problem with CORS and the request id; returns the body without its request id."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["access-control-allow-origin"] == "*"
    assert len(response.content) < 1000  # nothing of the request is echoed
    body = problem_body(response)
    assert body["type"] == f"/problems/{code}"
    assert body["status"] == status
    return body


# --- headers ------------------------------------------------------------------------------------


async def test_headers_over_the_limit_are_a_431(client: httpx.AsyncClient) -> None:
    big = {**ORIGIN, "X-Padding": "p" * 17_000}
    body = assert_refused(
        await client.get(f"{ROWS}?_size=1", headers=big), 431, "headers-too-large"
    )
    size = body["size"]
    assert isinstance(size, int) and size > 17_000
    assert body == {
        "type": "/problems/headers-too-large",
        "title": "Request headers too large",
        "status": 431,
        "detail": f"the request headers have {size:,} bytes; the limit is 16,384",
        "instance": ROWS,
        "limit": 16_384,
        "size": size,
    }


async def test_headers_under_the_limit_pass(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ROWS}?_size=1", headers={"X-Padding": "p" * 15_000})
    assert response.status_code == 200


async def test_many_small_headers_count_too(client: httpx.AsyncClient) -> None:
    headers = [(f"x-h{n}".encode(), b"v" * 200) for n in range(100)]
    response = await client.get(f"{ROWS}?_size=1", headers=[*headers, (b"origin", b"https://a.b")])
    assert_refused(response, 431, "headers-too-large")


# --- query string -------------------------------------------------------------------------------


async def test_a_long_query_string_is_a_414(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ROWS}?metric={'m' * 9000}", headers=ORIGIN)
    body = assert_refused(response, 414, "query-too-long")
    assert body["limit"] == 8192 and body["size"] == len("metric=") + 9000
    assert "mmmm" not in response.text


async def test_too_many_parameters_is_a_400_naming_count_and_limit(
    client: httpx.AsyncClient,
) -> None:
    query = "&".join(f"p{n}=1" for n in range(101))
    body = assert_refused(
        await client.get(f"{ROWS}?{query}", headers=ORIGIN), 400, "too-many-parameters"
    )
    assert body == {
        "type": "/problems/too-many-parameters",
        "title": "Too many query parameters",
        "status": 400,
        "detail": "the query has 101 parameters; the limit is 100",
        "instance": ROWS,
        "limit": 100,
        "count": 101,
    }


async def test_a_hundred_parameters_are_read(client: httpx.AsyncClient) -> None:
    query = "&".join(["_col=metric"] * 100)
    response = await client.get(f"{ROWS}?{query}&&&")  # empty pieces are not parameters
    assert response.status_code == 200, response.text[:300]


async def test_query_limits_are_settings(small: httpx.AsyncClient) -> None:
    assert (await small.get(f"{ROWS}?_size=1&_col=metric&_col=value")).status_code == 200
    four = await small.get(f"{ROWS}?_size=1&_col=metric&_col=value&_col=as_of", headers=ORIGIN)
    assert assert_refused(four, 400, "too-many-parameters")["count"] == 4
    long = await small.get(f"{ROWS}?metric={'m' * 300}", headers=ORIGIN)
    assert assert_refused(long, 414, "query-too-long")["limit"] == 256


# --- body ---------------------------------------------------------------------------------------


async def test_a_body_declared_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    payload = b'{"q": "' + b"x" * MIB + b'"}'
    response = await client.post(
        SEARCH, content=payload, headers={**ORIGIN, "Content-Type": "application/json"}
    )
    body = assert_refused(response, 413, "payload-too-large")
    assert body == {
        "type": "/problems/payload-too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": f"the request body has {len(payload):,} bytes; the limit is 1,048,576",
        "instance": SEARCH,
        "limit": MIB,
        "size": len(payload),
    }


async def test_a_streamed_body_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    """No Content-Length: the body is chunked, and counted as it is read."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"q": "'
        for _ in range(40):
            yield b"x" * 65_536
        yield b'"}'

    response = await client.post(
        SEARCH, content=chunks(), headers={**ORIGIN, "Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    body = assert_refused(response, 413, "payload-too-large")
    assert body["detail"] == "the request body has more bytes; the limit is 1,048,576"


async def test_a_body_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post(
        SEARCH,
        content=b'{"q": "' + b"x" * 1000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["success"] is True


async def test_the_body_limit_is_a_setting(small: httpx.AsyncClient) -> None:
    fits = b'{"rows": 1}' + b" " * 89
    assert len(fits) == 100
    json = {"Content-Type": "application/json", **ORIGIN}
    assert (await small.post(SEARCH, content=fits, headers=json)).status_code == 200
    over = await small.post(SEARCH, content=fits + b" ", headers=json)
    assert assert_refused(over, 413, "payload-too-large")["size"] == 101

    async def two_chunks() -> AsyncIterator[bytes]:
        yield fits
        yield b" "

    streamed = await small.post(SEARCH, content=two_chunks(), headers=json)
    assert_refused(streamed, 413, "payload-too-large")


async def test_a_get_with_a_big_body_is_refused_unread(client: httpx.AsyncClient) -> None:
    response = await client.request(
        "GET", f"{ROWS}?_size=1", content=b"x" * (MIB + 1), headers=ORIGIN
    )
    assert assert_refused(response, 413, "payload-too-large")["size"] == MIB + 1


async def test_every_limit_problem_type_resolves(client: httpx.AsyncClient) -> None:
    for code in ("payload-too-large", "headers-too-large", "query-too-long", "too-many-parameters"):
        response = await client.get(f"/problems/{code}")
        assert response.status_code == 200, code


# --- a live `opendata serve` --------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    log: Path


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"opendata serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"opendata serve did not answer: {log.read_text()[-2000:]}")


@pytest.fixture
def served(flagship_url: str, tmp_path: Path) -> Iterator[Served]:
    """`opendata serve` itself, in a subprocess, on a free port of 127.0.0.1."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "OPENDATA_DATABASE_URL": flagship_url,
        "OPENDATA_DATASETS_DIR": str(DATASETS),
        "OPENDATA_BASE_URL": url,
    }
    command = [str(Path(sys.executable).parent / "opendata"), "serve", "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            _wait_until_ready(url, process, log)
            yield Served(url=url, port=port, log=log)
        finally:
            process.terminate()
            process.wait(30)


def _raw_request(port: int, head: bytes) -> bytes:
    """Send a request head over a plain socket; return what came back (empty if cut)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(head)
        except (ConnectionResetError, BrokenPipeError):
            pass
        received = b""
        try:
            while chunk := sock.recv(65_536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return received


@pytest.mark.slow
def test_a_live_server_refuses_big_headers(served: Served) -> None:
    over = httpx.get(
        f"{served.url}{ROWS}?_size=1",
        headers={**ORIGIN, "X-Padding": "p" * 20_000, "X-Request-ID": "live-431"},
    )
    body = assert_refused(over, 431, "headers-too-large")
    assert over.headers["x-request-id"] == "live-431"
    assert body["limit"] == 16_384
    # A head far past the limit never reaches the application: the server cuts it at its
    # parser's bound and answers 400 (or resets the connection while it is still being sent).
    huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"h" * 16_000_000 + b"\r\n\r\n"
    answer = _raw_request(served.port, huge)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"problem+json" not in answer
    assert httpx.get(f"{served.url}/healthz").status_code == 200
    log = served.log.read_text()
    assert f"GET {ROWS} 431 " in log and "request_id=live-431" in log


def test_the_server_bounds_a_head_past_every_limit() -> None:
    settings = Settings()
    assert head_limit(settings) > settings.max_header_bytes + settings.max_query_bytes
    assert head_limit(settings) < 1_000_000
