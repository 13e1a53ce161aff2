"""Diffs run under the query time limit and the request's budget, on both backends.

Past the limit before the status line a diff is a 503 `query-timeout` problem; past it while a
CSV diff streams, the connection is cut, never ended as a short 200.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.config import Settings
from api.db import diffsource as diffsource_module
from api.db import rows as rows_module
from api.db.engine import writer_engine
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader, physical_table_name
from api.lru import LockedLRU
from api.main import create_app
from tests.builders import field, write_release
from tests.helpers import BASE_URL
from tests.live import live_server

ROWS = 60_000  # text keys: a sort in code-point order well over a millisecond on PostgreSQL
SCHEMA: dict[str, Any] = {"fields": [field("id"), field("label")], "primaryKey": ["id"]}
DIFF = "/v1/datasets/big/diff?from=1.0.0&to=1.1.0"
CSV_DIFF = "/v1/datasets/big/diff.csv?from=1.0.0&to=1.1.0&resource=items"
IDENTITY = {"Accept-Encoding": "identity"}  # compressed, the whole diff would fit in buffers


def _release(datasets: Path, version: str, label: str) -> None:
    lines = ["id,label", *(f"k{n:06d},{label} {n} {'x' * 80}" for n in range(ROWS))]
    write_release(datasets, "big", version, {"items": (SCHEMA, "\r\n".join(lines) + "\r\n")})


@pytest.fixture(scope="module")
def big_diff(backend: str, make_database: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A database with two releases whose every row changed, and their datasets folder."""
    url = make_database(backend)
    datasets = tmp_path_factory.mktemp("datasets")
    _release(datasets, "1.0.0", "old")
    _release(datasets, "1.1.0", "new")
    engine = writer_engine(url)
    summary = ReleaseLoader(engine, quiet=True).load_all(find_releases(datasets))
    engine.dispose()
    assert summary.ok, (summary.refused, summary.conflicts)
    return url, datasets


@asynccontextmanager
async def _client(url: str, datasets: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        Settings(database_url=url, base_url=BASE_URL, datasets_dir=datasets, **settings)
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        yield http


def _assert_timeout(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/query-timeout"
    assert body["status"] == 503
    assert body["detail"] == detail


@contextmanager
def _tables_locked(url: str, backend: str) -> Iterator[None]:
    """On PostgreSQL, hold an exclusive lock on both releases' tables for the block.

    PostgreSQL limits whole milliseconds, and reading 2,000 rows of an index may take less: a
    query waiting on the lock runs past any limit, so the limit fires every time. SQLite's limit
    fires at the first look at the clock past it, after a few thousand steps.
    """
    if backend != "postgresql":
        yield
        return
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            for version in ("1.0.0", "1.1.0"):
                table = physical_table_name("big", version, "items")
                connection.exec_driver_sql(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
            yield
    finally:
        engine.dispose()


@pytest.mark.anyio
@pytest.mark.parametrize("path", [DIFF, DIFF + "&resource=items&_size=5", CSV_DIFF])
async def test_diff_past_the_query_limit_is_a_503(
    big_diff: Any, backend: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, datasets = big_diff
    # Diffs are kept for the life of the process (releases never change): one that another
    # test computed would leave only a page of five rows to read.
    monkeypatch.setattr(rows_module, "RESULTS", LockedLRU(16))
    monkeypatch.setattr(diffsource_module, "RESULTS", rows_module.RESULTS)
    limit = 1e-9 if backend == "sqlite" else 0.2
    with _tables_locked(url, backend):
        async with _client(url, datasets, query_timeout_seconds=limit) as http:
            _assert_timeout(await http.get(path), f"the query ran longer than {limit:g} s")


@pytest.mark.anyio
async def test_diff_past_the_request_budget_is_a_503_then_answers(big_diff: Any) -> None:
    url, datasets = big_diff
    async with _client(url, datasets, request_timeout_seconds=1e-9) as http:
        for path in (DIFF, CSV_DIFF):
            _assert_timeout(
                await http.get(path), "the queries of this request ran longer than 1e-09 s in all"
            )
    async with _client(url, datasets) as http:
        response = await http.get(DIFF + "&_size=2")
        assert response.status_code == 200, response.text
        rows = response.json()["resources"][0]["rows"]
        assert rows == {"added": 0, "removed": 0, "changed": ROWS, "unchanged": 0}


BUDGET = 3.0  # the status line goes well within it; the paused stream goes past it


@pytest.mark.slow
def test_csv_diff_past_the_budget_mid_stream_is_cut(big_diff: Any) -> None:
    """The client stops reading until the request's budget is spent: the next read of rows is
    stopped and the response ends without its last chunk, not as a short 200."""
    url, datasets = big_diff
    settings = {"request_timeout_seconds": BUDGET}
    with live_server(url, datasets_dir=datasets, **settings) as server:
        with httpx.Client(timeout=30, headers=IDENTITY) as http:
            with http.stream("GET", server.url + CSV_DIFF) as response:
                assert response.status_code == 200
                chunks = response.iter_raw(4096)
                received = len(next(chunks))
                time.sleep(BUDGET + 0.5)  # the server waits on the socket, the budget runs out
                with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                    for chunk in chunks:
                        received += len(chunk)
            # The same server answers the next request, which has a budget of its own.
            assert http.get(server.url + DIFF + "&_size=1").status_code == 200
    whole = ROWS * len(f"k000000,changed,old 0 {'x' * 80},new 0 {'x' * 80}\r\n")
    assert received < whole
