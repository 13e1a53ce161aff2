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
