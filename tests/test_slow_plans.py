"""Work that would hold a worker: facets past their limit, slow plans rerun as scans, queued calls.

A table of 60,000 rows, over the 50,000 above which SQLite queries of a table are watched for a
plan that costs more than a scan, with one index per filtered column as the loader builds them.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa

from api.config import Settings
from api.db import rows as rows_module
from api.db.engine import reader_engine, time_limited
from api.db.limiter import limit_concurrency, run_blocking
from api.query import parse_row_query
from api.query.build import build_bounded_count, build_facet, build_select
from tests.builders import field, write_release
from tests.helpers import BASE_URL, MakeDatabase, app_client, load_releases

pytestmark = pytest.mark.anyio

ROWS = 60_000
PROVINCES = [f"KH-{n}" for n in range(1, 26)]
PAGE = "/v1/datasets/wide/1.0.0/cases.json"
# Thousands of SQLite steps: a limit that had counted the wait would stop it at once.
COUNTED = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)"
    " SELECT count(*) FROM c"
)
UNINDEXED = re.compile(r"[\s(,]\+\"?[a-z_]")  # `+column`, as api.query.scan writes it


def _csv() -> str:
    generator = random.Random(20260312)
    lines = ["id,province,reported_on,people,note"]
    for n in range(1, ROWS + 1):
        day = 1 + generator.randrange(28)
        month = 1 + generator.randrange(12)
        lines.append(
            f"{n},{generator.choice(PROVINCES)},2025-{month:02d}-{day:02d},"
            f"{generator.randrange(5000)},note {generator.randrange(900)}"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wide")
    schema = {
        "fields": [
            field("id", "integer"),
            field("province"),
            field("reported_on", "date"),
            field("people", "integer"),
            field("note"),
        ],
        "primaryKey": ["id"],
    }
    write_release(root, "wide", "1.0.0", {"cases": (schema, _csv())})
    return root


@pytest.fixture(scope="module")
def wide_url(backend: str, make_database: MakeDatabase, datasets: Path) -> str:
    url = make_database(backend)
    load_releases(url, datasets)
    return url


@pytest.fixture
def settings(wide_url: str, datasets: Path) -> Settings:
    return Settings(database_url=wide_url, base_url=BASE_URL, datasets_dir=datasets)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as http:
        yield http


# Filters on an unindexed column with a sort or a facet along an index, and wide date ranges:
# the plans SQLite gets wrong on a large table.
QUERIES = [
    {"note": "note 17", "_sort": "-province,-reported_on", "_size": "20"},
    {"people__between": "100..4000", "_sort": "province", "_size": "50", "_facet": "province"},
    {"reported_on__gte": "2025-02-01", "people__lt": "300", "_sort": "-reported_on,people"},
    {"note__icontains": "NOTE 4", "_sort": "people", "_size": "7", "_count": "exact"},
    {"province": "KH-7", "reported_on__between": "2025-03-01..2025-09-30", "_facet": "note"},
]


async def _pages(http: httpx.AsyncClient, params: dict[str, str]) -> list[dict[str, Any]]:
    """The first three pages of a query, following `next_url`."""
    bodies = []
    response = await http.get(PAGE, params=params)
    for _ in range(3):
        assert response.status_code == 200, response.text
        body = response.json()
        bodies.append(body)
        if body["next_url"] is None:
            break
        response = await http.get(body["next_url"])
    return bodies


@pytest.mark.parametrize("params", QUERIES, ids=lambda p: "&".join(p))
async def test_a_plan_rerun_as_a_scan_gives_the_same_answer(
    backend: str,
    settings: Settings,
    params: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every query abandoned at once and rerun as a scan answers as the plan SQLite chose."""
    async with app_client(settings) as http:
        planned = await _pages(http, params)
    statements: list[str] = []
    monkeypatch.setattr(rows_module, "PLANNED_CPU_SECONDS", 0.0)
    monkeypatch.setattr(rows_module, "RESULTS", type(rows_module.RESULTS)(16))
    monkeypatch.setattr(rows_module, "INLINE_BUDGET_SECONDS", 0.0)
    async with app_client(settings) as http:
        engine: sa.Engine = http._transport.app.state.engine  # type: ignore[attr-defined]
        sa.event.listen(
            engine, "before_cursor_execute", lambda *a: statements.append(str(a[2]))
        )
        scanned = await _pages(http, params)
    assert scanned == planned
    rows_table = re.compile(r"FROM \"?d_")
    reruns = [sql for sql in statements if rows_table.search(sql) and UNINDEXED.search(sql)]
    if backend == "sqlite":
        assert reruns, "no query was rerun as a scan"
    else:
        assert not reruns, "PostgreSQL plans by statistics and is never asked to scan"


async def test_once_a_plan_is_abandoned_the_rest_of_the_request_scans(
    backend: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count and facets share the page's filters: after one abandoned plan, no second try."""
    if backend != "sqlite":
        pytest.skip("only SQLite queries are rerun as scans")
    monkeypatch.setattr(rows_module, "PLANNED_CPU_SECONDS", 0.0)
    monkeypatch.setattr(rows_module, "RESULTS", type(rows_module.RESULTS)(16))
    statements: list[str] = []
    async with app_client(settings) as http:
        engine: sa.Engine = http._transport.app.state.engine  # type: ignore[attr-defined]
        sa.event.listen(
            engine, "before_cursor_execute", lambda *a: statements.append(str(a[2]))
        )
        params = {"people__lt": "2000", "note__icontains": "1", "_facet": "province"}
        response = await http.get(PAGE, params={**params, "_count": "exact"})
    assert response.status_code == 200
    rows_table = re.compile(r"FROM \"?d_")
    queries = [UNINDEXED.search(sql) is not None for sql in statements if rows_table.search(sql)]
    first_scan = queries.index(True)
    assert queries[first_scan:] == [True, True, True]  # the page, its count, its facet


def test_the_scan_reads_the_table_not_an_index(wide_url: str, backend: str) -> None:
    """The rerun's SQL leaves SQLite no index: its plan is a scan of the table."""
    if backend != "sqlite":
        pytest.skip("only SQLite queries are rerun as scans")
    engine = reader_engine(wide_url)
    try:
        with engine.connect() as connection:
            spec = _spec(engine)
            for params in QUERIES:
                query = parse_row_query(
                    spec, [(k, v) for k, v in params.items()], default_size=100, max_size=1000
                )
                selects = [
                    build_select(spec, query, limit=query.size + 1, scan=True).select,
                    build_bounded_count(spec, query, 1000, scan=True),
                    *(build_facet(spec, query, f, scan=True) for f in query.facets),
                ]
                for select in selects:
                    sql = str(select.compile(engine, compile_kwargs={"literal_binds": True}))
                    plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
                    steps = " | ".join(str(row[3]) for row in plan)
                    assert "USING" not in steps and "SEARCH" not in steps, (params, steps)
                    assert f"SCAN {spec.table.name}" in steps
    finally:
        engine.dispose()


def _spec(engine: sa.Engine) -> Any:
    from api.db.releases import Catalog

    return Catalog(engine).table_spec("wide", "1.0.0", "cases")


async def test_a_facet_past_its_limit_is_left_out_and_named(
    settings: Settings, backend: str
) -> None:
    """The page is answered with its rows and total; the facet is named in `facets_timed_out`."""
    async with app_client(settings) as http:
        params = {"note__icontains": "7", "_facet": "province", "_size": "3", "_count": "exact"}
        full = (await http.get(PAGE, params=params)).json()
    quick = settings.model_copy(update={"facet_timeout_seconds": 1e-9})
    async with app_client(quick) as http:
        params = {**params, "note__icontains": "3", "_facet": "province,note"}
        response = await http.get(PAGE, params=params)
    assert response.status_code == 200
    body = response.json()
    assert body["facets"] == {}
    assert body["facets_timed_out"] == ["province", "note"]
    assert len(body["rows"]) == 3 and body["total_is_exact"] is True
    assert full["facets_timed_out"] == []
    assert sum(v["count"] for v in full["facets"]["province"]) == full["total"]


async def test_the_table_view_says_which_facet_timed_out(settings: Settings) -> None:
    quick = settings.model_copy(update={"facet_timeout_seconds": 1e-9})
    async with app_client(quick) as http:
        page = await http.get(
            "/datasets/wide/1.0.0/cases", params={"note__icontains": "5", "_facet": "province"}
        )
    assert page.status_code == 200
    assert "Counting by <code>province</code> took too long" in page.text


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    path = tmp_path / "plain.sqlite"
    sqlite3.connect(path).close()
    engine = reader_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


async def test_blocking_calls_of_an_engine_wait_their_turn(sqlite_engine: sa.Engine) -> None:
    """With two slots, at most two calls run at once; the others start as slots come free."""
    limit_concurrency(sqlite_engine, 2)
    running: list[int] = []
    most = 0
    release = anyio.Event()
    started = anyio.Event()

    def work() -> None:
        nonlocal most
        running.append(1)
        most = max(most, len(running))
        if len(running) == 2:
            anyio.from_thread.run_sync(started.set)
        anyio.from_thread.run(release.wait)
        running.pop()

    async with anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(run_blocking, sqlite_engine, work)
        await started.wait()
        await anyio.sleep(0.05)
        assert len(running) == 2
        release.set()
    assert most == 2 and not running


async def test_a_query_limit_counts_its_run_not_its_wait_for_a_slot(
    sqlite_engine: sa.Engine,
) -> None:
    """A query queued behind a slow call for longer than its limit still runs in full."""
    limit_concurrency(sqlite_engine, 1)
    release = anyio.Event()
    holding = anyio.Event()

    def slow() -> None:
        anyio.from_thread.run_sync(holding.set)
        anyio.from_thread.run(release.wait)

    def quick() -> int:
        with sqlite_engine.connect() as connection, time_limited(connection, 0.05):
            return int(connection.exec_driver_sql(COUNTED).scalar_one())

    async with anyio.create_task_group() as group:
        group.start_soon(run_blocking, sqlite_engine, slow)
        await holding.wait()
        waited: list[int] = []

        async def queued() -> None:
            waited.append(await run_blocking(sqlite_engine, quick))

        group.start_soon(queued)
        await anyio.sleep(0.2)  # four times the query's limit, spent waiting for the slot
        assert waited == []
        release.set()
    assert waited == [20_000]
