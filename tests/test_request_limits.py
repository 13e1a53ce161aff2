"""Bounded work per request: problems list a bounded number of errors, a page a bounded number of
facets, and a request's queries share one time budget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from api.config import Settings
from api.main import create_app
from tests.conftest import BASE_URL, DATASETS, FLAGSHIP

pytestmark = pytest.mark.anyio
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


async def test_five_thousand_unknown_parameters_list_twenty(flagship_url: str) -> None:
    params = [(f"_x{n}", "1") for n in range(5_000)]
    async with _client(flagship_url) as http:
        response = await http.get(FIGURES, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert len(response.content) < 8 * 1024
    body = response.json()
    assert [e["param"] for e in body["errors"]] == [f"_x{n}" for n in range(20)]
    assert body["errors_omitted"] == 4_980
    assert body["detail"].startswith("5000 problem(s) in the query: _x0: ")
    assert body["detail"].endswith("; and 4,980 more")


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


async def test_facet_limit_follows_the_setting(flagship_url: str) -> None:
    async with _client(flagship_url, max_facets=1) as http:
        response = await http.get(FIGURES, params={"_facet": "metric,qualifier"})
        one = await http.get(FIGURES, params={"_facet": "metric"})
    assert response.status_code == 400
    assert [(e["code"], e["message"]) for e in response.json()["errors"]] == [
        ("too-many-facets", "2 columns are faceted; at most 1 may be.")
    ]
    assert one.status_code == 200
