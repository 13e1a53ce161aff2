"""The query time limit: a long statement stops with QueryTimeout; the connection stays usable."""

from __future__ import annotations

import time

import httpx
import pytest
import sqlalchemy as sa

from api.config import Settings
from api.db import rows as rows_module
from api.db.engine import reader_engine, time_limited
from api.errors import QueryTimeout
from api.main import create_app
from tests.helpers import BASE_URL, FLAGSHIP

# A statement that runs for seconds on either backend unless it is stopped.
LONG = {
    "sqlite": (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000000)"
        " SELECT count(*) FROM c"
    ),
    "postgresql": "SELECT pg_sleep(30)",
}
# A statement that takes longer than the limit below but finishes on its own.
MEDIUM = {
    "sqlite": (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000)"
        " SELECT count(*) FROM c"
    ),
    "postgresql": "SELECT count(*) FROM (SELECT pg_sleep(0.3)) AS s",
}
LIMIT = 0.1


@pytest.fixture
def engine(backend: str, flagship_url: str) -> sa.Engine:
    engine = reader_engine(flagship_url)
    yield engine  # type: ignore[misc]
    engine.dispose()


def test_long_statement_is_stopped(backend: str, engine: sa.Engine) -> None:
    started = time.monotonic()
    with engine.connect() as connection, pytest.raises(QueryTimeout) as raised:
        with time_limited(connection, LIMIT):
            connection.exec_driver_sql(LONG[backend]).all()
    assert time.monotonic() - started < 10
    assert str(raised.value) == f"the query ran longer than {LIMIT:g} s"


def test_limit_ends_with_the_block(backend: str, engine: sa.Engine) -> None:
    """The pooled connection keeps no limit: a later unlimited statement runs to its end."""
    with engine.connect() as connection, time_limited(connection, 30):
        assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
    with engine.connect() as connection:
        assert connection.exec_driver_sql(MEDIUM[backend]).scalar_one() >= 1


def test_statement_within_the_limit_returns(backend: str, engine: sa.Engine) -> None:
    with engine.connect() as connection, time_limited(connection, 30):
        assert connection.exec_driver_sql(MEDIUM[backend]).scalar_one() >= 1


def test_non_timeout_errors_pass_through(engine: sa.Engine) -> None:
    with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError) as raised:
        with time_limited(connection, 30):
            connection.exec_driver_sql("SELECT * FROM no_such_table").all()
    assert not isinstance(raised.value, QueryTimeout)


@pytest.mark.anyio
async def test_timed_out_facet_is_a_503_problem(flagship_url: str, backend: str) -> None:
    """Over HTTP: a query past the limit is a 503 problem, and the server keeps answering."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL limits whole milliseconds; the flagship's facets finish sooner")
    settings = Settings(
        database_url=flagship_url, base_url=BASE_URL, query_timeout_seconds=1e-9
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    url = f"/v1/datasets/{FLAGSHIP}/latest/figures.json"
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http,
    ):
        params = {"_facet": "metric", "report_id__icontains": "time-limit"}
        slow = await http.get(url, params=params)
        assert slow.status_code == 503
        assert slow.headers["content-type"] == "application/problem+json"
        problem = slow.json()
        assert problem["status"] == 503
        assert problem["type"].endswith("/problems/query-timeout")
        assert "ran longer than" in problem["detail"]
        # An export is limited until its first rows: the sort runs before the first byte.
        export = await http.get(url.replace(".json", ".csv"), params={"_sort": "-value"})
        assert export.status_code == 503
        assert export.headers["content-type"] == "application/problem+json"
        assert export.json()["type"].endswith("/problems/query-timeout")
        fine = await http.get(url, params={"_size": 1, "_count": "none"})
        assert fine.status_code == 200


@pytest.mark.anyio
async def test_page_past_the_inline_budget_moves_off_the_event_loop(
    flagship_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page the event loop cannot finish within its budget is run again in the threadpool."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL limits whole milliseconds; the flagship's pages finish sooner")
    settings = Settings(database_url=flagship_url, base_url=BASE_URL)
    app = create_app(settings)
    url = f"/v1/datasets/{FLAGSHIP}/1.2.0/figures.json"
    params = {"_sort": "-value", "_size": 5, "_count": "none"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        expected = (await http.get(url, params=params)).json()
        monkeypatch.setattr(rows_module, "INLINE_BUDGET_SECONDS", 1e-9)
        response = await http.get(url, params={**params, "_size": 6})
        assert response.status_code == 200
        assert len(expected["rows"]) == 5
        assert response.json()["rows"][:5] == expected["rows"]


def test_limit_firing_while_rows_are_fetched(backend: str, engine: sa.Engine) -> None:
    """Rows read from the driver's cursor raise the driver's own error: still a QueryTimeout.

    SQLite returns the first row from `execute` and computes the rest while they are fetched, so
    a limit that is already past fires inside `fetchall` on the raw cursor.
    """
    if backend != "sqlite":
        pytest.skip("PostgreSQL computes a client-side result inside execute, before any fetch")
    select = sa.text(LONG["sqlite"].replace("SELECT count(*) FROM c", "SELECT x FROM c"))
    with engine.connect() as connection, pytest.raises(QueryTimeout):
        with time_limited(connection, 1e-9):
            result = connection.execute(select)
            result.cursor.fetchall()


def test_limit_firing_mid_stream_on_a_server_side_cursor(backend: str, engine: sa.Engine) -> None:
    """A FETCH from a PostgreSQL server-side cursor past the limit is a QueryTimeout too."""
    if backend != "postgresql":
        pytest.skip("SQLite has no server-side cursors; the test above covers its fetches")
    slow = "SELECT x, pg_sleep(CASE WHEN x > 1 THEN 0.5 ELSE 0 END) FROM generate_series(1, 5) x"
    with engine.connect() as connection, pytest.raises(QueryTimeout):
        with time_limited(connection, LIMIT):
            result = connection.execution_options(stream_results=True).exec_driver_sql(slow)
            result.cursor.fetchmany(1)
            result.cursor.fetchmany(10)


@pytest.mark.anyio
async def test_budget_running_out_while_a_page_is_fetched(
    flagship_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inline budget firing during the fetch (not the first step) still moves the page off
    the event loop: it used to be a bare 500 from the driver's cursor."""
    settings = Settings(database_url=flagship_url, base_url=BASE_URL)
    app = create_app(settings)
    url = f"/v1/datasets/{FLAGSHIP}/1.2.0/figures.json"
    params = {"_size": 400, "_count": "none"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        expected = (await http.get(url, params=params)).json()
        monkeypatch.setattr(rows_module, "INLINE_BUDGET_SECONDS", 1e-9)
        response = await http.get(url, params=params)
        assert response.status_code == 200
        assert response.json() == expected
        assert len(expected["rows"]) == 400
