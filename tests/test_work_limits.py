"""Bounded work per request: problems list a bounded number of errors, a page a bounded number of
facets, and a request's queries share one time budget."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from api.config import Settings
from api.db.budget import QueryBudget
from api.db.engine import reader_engine, time_limited
from api.errors import QueryTimeout
from api.main import create_app
from tests.helpers import BASE_URL, DATASETS, FLAGSHIP

FIGURES = f"/v1/datasets/{FLAGSHIP}/1.2.0/figures"


@asynccontextmanager
async def _client(url: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        Settings(database_url=url, base_url=BASE_URL, datasets_dir=DATASETS, **settings)
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        yield http


@pytest.mark.anyio
async def test_five_thousand_unknown_parameters_list_twenty(flagship_url: str) -> None:
    params = [(f"_x{n}", "1") for n in range(5_000)]
    # Above the parameter-count and query-length limits, so that every parameter is parsed.
    async with _client(flagship_url, max_query_params=10_000, max_query_bytes=100_000) as http:
        response = await http.get(FIGURES, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert len(response.content) < 8 * 1024
    body = response.json()
    assert [e["param"] for e in body["errors"]] == [f"_x{n}" for n in range(20)]
    assert body["errors_omitted"] == 4_980
    assert body["detail"].startswith("5000 problem(s) in the query: _x0: ")
    assert body["detail"].endswith("; and 4,980 more")


@pytest.mark.anyio
async def test_errors_listed_follow_the_setting(flagship_url: str) -> None:
    params = [("nope", "1"), ("_nope", "1"), ("value__nope", "1")]
    async with _client(flagship_url, max_problem_errors=2) as http:
        response = await http.get(FIGURES, params=params)
        under = await http.get(FIGURES, params=params[:2])
    assert response.status_code == 400
    body = response.json()
    assert [e["param"] for e in body["errors"]] == ["nope", "_nope"]
    assert body["errors_omitted"] == 1
    assert under.status_code == 400
    assert len(under.json()["errors"]) == 2
    assert "errors_omitted" not in under.json()


SIX_FACETS = "metric,qualifier,scope,nationality,sex,report_id"


@pytest.mark.anyio
async def test_more_facets_than_allowed_is_a_400_with_the_other_problems(
    flagship_url: str,
) -> None:
    params = [("_facet", SIX_FACETS), ("_facet", "metric"), ("nope", "1")]
    async with _client(flagship_url) as http:
        response = await http.get(FIGURES, params=params)
        five = await http.get(FIGURES, params={"_facet": SIX_FACETS.rsplit(",", 1)[0]})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "param": "_facet",
            "code": "too-many-facets",
            "message": "6 columns are faceted; at most 5 may be.",
        },
        {
            "param": "nope",
            "code": "unknown-column",
            "message": (
                "No column 'nope' in this table; the columns are: figure_id, report_id, metric,"
                " value, qualifier, period_start, as_of, scope, nationality, sex, provinces, notes."
            ),
        },
    ]
    assert five.status_code == 200
    assert len(five.json()["facets"]) == 5


@pytest.mark.anyio
async def test_facet_limit_follows_the_setting(flagship_url: str) -> None:
    async with _client(flagship_url, max_facets=1) as http:
        response = await http.get(FIGURES, params={"_facet": "metric,qualifier"})
        one = await http.get(FIGURES, params={"_facet": "metric"})
    assert response.status_code == 400
    assert [(e["code"], e["message"]) for e in response.json()["errors"]] == [
        ("too-many-facets", "2 columns are faceted; at most 1 may be.")
    ]
    assert one.status_code == 200


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_budget_gives_each_query_what_the_request_has_left() -> None:
    clock = Clock()
    budget = QueryBudget(10, 30, clock=clock)
    assert budget.next_limit().seconds == 10
    assert budget.next_limit().message == "the query ran longer than 10 s"
    assert budget.next_limit(at_most=0.02).seconds == 0.02
    clock.now += 25
    left = budget.next_limit()
    assert left.seconds == pytest.approx(5)
    assert left.message == "the queries of this request ran longer than 30 s in all"
    clock.now += 5
    with pytest.raises(QueryTimeout) as raised:
        budget.next_limit()
    assert str(raised.value) == "the queries of this request ran longer than 30 s in all"


def test_budget_without_a_request_limit_never_runs_out() -> None:
    clock = Clock()
    budget = QueryBudget(10, clock=clock)
    clock.now += 1e9
    assert budget.next_limit().seconds == 10


# A statement of at least 0.8 s on either backend: it sleeps, and SQLite steps between naps.
SLOW = {
    "sqlite": (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 800)"
        " SELECT count(*) FROM c WHERE nap(0.001)"
    ),
    "postgresql": "SELECT count(*) FROM (SELECT pg_sleep(0.8)) AS s",
}


@pytest.fixture
def napping_engine(backend: str, flagship_url: str) -> Iterator[sa.Engine]:
    engine = reader_engine(flagship_url)
    if backend == "sqlite":

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.create_function("nap", 1, lambda s: time.sleep(s) is None)

    yield engine
    engine.dispose()


def test_queries_each_under_the_limit_stop_when_their_sum_passes_the_budget(
    backend: str, napping_engine: sa.Engine
) -> None:
    """A 0.8 s query, far under the per-query limit, after a second of a 1.4 s budget is spent.

    The clock of the budget is moved by hand (the time of the earlier queries); the database
    stops the query by its own timer when the 0.4 s left run out.
    """
    clock = Clock()
    budget = QueryBudget(30, 1.4, clock=clock)
    with napping_engine.connect() as connection, time_limited(connection, budget):
        assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
    clock.now += 1.0
    with napping_engine.connect() as connection, pytest.raises(QueryTimeout) as raised:
        with time_limited(connection, budget):
            connection.exec_driver_sql(SLOW[backend]).scalar_one()
    assert str(raised.value) == "the queries of this request ran longer than 1.4 s in all"
    # Past the budget, a further query of the request does not even start.
    clock.now += 0.4
    with napping_engine.connect() as connection, pytest.raises(QueryTimeout):
        with time_limited(connection, budget):
            connection.exec_driver_sql("SELECT 1").scalar_one()


@pytest.mark.anyio
async def test_page_with_facets_past_the_request_budget_is_a_503(flagship_url: str) -> None:
    """Each query of the page has 30 s, the request's queries 1 ns together."""
    params = {"_facet": "metric,qualifier,scope", "value__gt": "0", "_count": "exact"}
    async with _client(
        flagship_url, query_timeout_seconds=30, request_timeout_seconds=1e-9
    ) as http:
        response = await http.get(FIGURES, params=params)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/query-timeout"
    assert body["detail"] == "the queries of this request ran longer than 1e-09 s in all"
    async with _client(flagship_url, query_timeout_seconds=30) as http:
        assert (await http.get(FIGURES, params=params)).status_code == 200
