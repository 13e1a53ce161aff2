"""A lost database is a 503 problem with Retry-After and CORS headers, and the same app recovers.

Each fault happens for real: a SQLite file moved away or replaced with garbage, a PostgreSQL
server behind a proxy the test stops, hangs and reopens, a stream cut under a live server.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from api.config import Settings
from api.main import create_app
from tests.builders import field, write_release
from tests.helpers import (
    BASE_URL,
    PG_ENV,
    PG_SKIP,
    MakeDatabase,
    drop_postgres_database,
    fresh_postgres_database,
    load_releases,
)
from tests.live import live_server
from tests.tcpproxy import TcpProxy

pytestmark = pytest.mark.anyio
ORIGIN = {"Origin": "https://example.org"}
ROWS = "/v1/datasets/small/1.0.0/items"
SCHEMA: dict[str, Any] = {
    "fields": [field("id", "integer"), field("label")],
    "primaryKey": ["id"],
}


def _release(datasets: Path, rows: int, pad: int = 0) -> None:
    lines = ["id,label", *(f"{n},item {n} {'x' * pad}" for n in range(1, rows + 1))]
    write_release(datasets, "small", "1.0.0", {"items": (SCHEMA, "\r\n".join(lines) + "\r\n")})


async def _client(url: str, datasets: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=url, base_url=BASE_URL, datasets_dir=datasets, db_connect_timeout_seconds=2
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        yield http


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert body["type"] == "/problems/database-unavailable"
    assert body["status"] == 503


@pytest.fixture
def sqlite_db(tmp_path: Path) -> tuple[Path, Path]:
    datasets = tmp_path / "datasets"
    _release(datasets, 10)
    path = tmp_path / "opendata.sqlite"
    load_releases(f"sqlite:///{path}", datasets)
    return path, datasets


@pytest.mark.parametrize("fault", ["moved", "garbage", "empty"])
async def test_sqlite_file_lost_is_503_then_recovers(
    sqlite_db: tuple[Path, Path], fault: str
) -> None:
    path, datasets = sqlite_db
    aside = path.with_suffix(".aside")
    shutil.move(path, aside)
    if fault == "garbage":
        path.write_bytes(b"this is not a database file " * 200)
    elif fault == "empty":
        path.write_bytes(b"")
    # A new connection opens on the lost file: the app starts while the database is gone.
    async for http in _client(f"sqlite:///{path}", datasets):
        for url in (ROWS, ROWS + ".csv", "/v1/datasets", "/v1/datasets/small/1.0.0.zip"):
            _assert_unavailable(await http.get(url, headers=ORIGIN))
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["type"] == "/problems/not-ready"
        path.unlink(missing_ok=True)
        shutil.move(aside, path)
        response = await http.get(ROWS, headers=ORIGIN)
        assert response.status_code == 200, response.text
        assert len(response.json()["rows"]) == 10
        assert (await http.get("/readyz")).status_code == 200


@pytest.fixture
def pg_proxy(tmp_path: Path) -> Iterator[tuple[str, TcpProxy, Path]]:
    admin = os.environ.get(PG_ENV)
    if not admin:
        pytest.skip(PG_SKIP)
    url, name = fresh_postgres_database(admin)
    datasets = tmp_path / "datasets"
    _release(datasets, 100_000, pad=60)
    load_releases(url, datasets)
    parsed = make_url(url)
    proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    proxy.start()
    try:
        yield parsed.set(port=proxy.port).render_as_string(hide_password=False), proxy, datasets
    finally:
        proxy.stop()
        drop_postgres_database(admin, name)


@pytest.mark.postgres
async def test_postgres_down_hanging_and_back(pg_proxy: tuple[str, TcpProxy, Path]) -> None:
    url, proxy, datasets = pg_proxy
    async for http in _client(url, datasets):
        assert (await http.get(ROWS, headers=ORIGIN)).status_code == 200
        proxy.stop()
        for path in (ROWS, ROWS + "/7", ROWS + ".csv", ROWS + ".csv?id__gt=5", "/v1/datasets"):
            _assert_unavailable(await http.get(path, headers=ORIGIN))
        assert (await http.get("/readyz")).status_code == 503
        proxy.start()
        proxy.hang()  # accepts, never answers: the connect timeout ends the wait
        _assert_unavailable(await http.get(ROWS + "?id__gt=5", headers=ORIGIN))
        proxy.stop()
        proxy.start()
        response = await http.get(ROWS + "?id__gt=5", headers=ORIGIN)
        assert response.status_code == 200, response.text
        assert response.json()["rows"][0]["id"] == 6
        assert (await http.get("/readyz")).status_code == 200


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("path", [ROWS + ".csv?id__gt=0", ROWS + ".ndjson", ROWS + ".csv"])
def test_stream_cut_mid_body_aborts(pg_proxy: tuple[str, TcpProxy, Path], path: str) -> None:
    url, proxy, datasets = pg_proxy
    with live_server(url, datasets_dir=datasets) as server, httpx.Client(timeout=30) as http:
        with http.stream("GET", server.url + path) as response:
            assert response.status_code == 200
            chunks = response.iter_raw(4096)
            received = len(next(chunks))
            proxy.stop()
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                for chunk in chunks:
                    received += len(chunk)
        proxy.start()
        # The same server serves the whole file again once the database is back.
        complete = http.get(server.url + path)
        assert complete.status_code == 200
        assert received < len(complete.content)


async def test_two_workers_see_a_load_on_their_next_request(
    backend: str, make_database: MakeDatabase, tmp_path: Path
) -> None:
    """Two apps (two workers) on one database both serve a release right after it commits."""
    url = make_database(backend)
    datasets = tmp_path / "datasets"
    _release(datasets, 3)
    load_releases(url, datasets)
    first_gen = _client(url, datasets)
    second_gen = _client(url, datasets)
    first, second = await anext(first_gen), await anext(second_gen)
    try:
        for http in (first, second):
            assert (await http.get("/v1/datasets/small/1.0.0/items")).status_code == 200
            assert (await http.get("/v1/datasets/small/1.1.0/items")).status_code == 404
        lines = ["id,label", *(f"{n},item {n} " for n in range(1, 5))]
        write_release(datasets, "small", "1.1.0", {"items": (SCHEMA, "\r\n".join(lines) + "\r\n")})
        load_releases(url, datasets)
        for http in (first, second):
            response = await http.get("/v1/datasets/small/1.1.0/items")
            assert response.status_code == 200, response.text
            assert [r["id"] for r in response.json()["rows"]] == [1, 2, 3, 4]
            latest = await http.get("/v1/datasets/small/latest/items")
            assert latest.headers["x-dataset-version"] == "1.1.0"
    finally:
        for gen in (first_gen, second_gen):
            await gen.aclose()
