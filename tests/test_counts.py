"""Bounded totals: exact under the count cap, a lower bound past it, exact when asked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from api.config import Settings
from api.main import create_app
from tests.helpers import BASE_URL, DATASETS, FLAGSHIP

pytestmark = pytest.mark.anyio

CAP = 3
PREFIX = f"/v1/datasets/{FLAGSHIP}/1.2.0"
FIGURES_ROWS = 433  # data rows of figures.csv in 1.2.0


@pytest.fixture
async def capped(flagship_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the flagship database with a count cap of three rows."""
    settings = Settings(
        database_url=flagship_url,
        base_url=BASE_URL,
        datasets_dir=DATASETS,
        count_budget_rows=CAP,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        yield http


def _unmatched() -> str:
    """A value no row holds and no other request used: its count is never cached already."""
    return f"none-{uuid.uuid4().hex}"


async def test_total_past_the_cap_is_a_lower_bound(capped: httpx.AsyncClient) -> None:
    response = await capped.get(f"{PREFIX}/figures", params={"metric__not": _unmatched()})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["total_is_exact"]) == (CAP, False)
    assert "x-total-count" not in response.headers
    assert len(body["rows"]) == 100


async def test_count_exact_counts_past_the_cap(capped: httpx.AsyncClient) -> None:
    params = {"metric__not": _unmatched(), "_count": "exact", "_size": "1"}
    response = await capped.get(f"{PREFIX}/figures", params=params)
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["total_is_exact"]) == (FIGURES_ROWS, True)
    assert response.headers["x-total-count"] == str(FIGURES_ROWS)
    # Once counted, the bounded default gives the exact total too.
    del params["_count"]
    again = (await capped.get(f"{PREFIX}/figures", params=params)).json()
    assert (again["total"], again["total_is_exact"]) == (FIGURES_ROWS, True)


async def test_total_under_the_cap_is_exact(capped: httpx.AsyncClient) -> None:
    first_two = (await capped.get(f"{PREFIX}/figures", params={"_size": "2"})).json()["rows"]
    ids = ",".join(row["figure_id"] for row in first_two)
    params = {"figure_id__in": ids, "metric__not": _unmatched()}
    response = await capped.get(f"{PREFIX}/figures", params=params)
    body = response.json()
    assert (body["total"], body["total_is_exact"]) == (2, True)
    assert response.headers["x-total-count"] == "2"


async def test_total_at_the_cap_is_exact(capped: httpx.AsyncClient) -> None:
    first = (await capped.get(f"{PREFIX}/figures", params={"_size": str(CAP)})).json()["rows"]
    ids = ",".join(row["figure_id"] for row in first)
    params = {"figure_id__in": ids, "metric__not": _unmatched()}
    body = (await capped.get(f"{PREFIX}/figures", params=params)).json()
    assert (body["total"], body["total_is_exact"]) == (CAP, True)


async def test_unfiltered_total_is_exact_past_the_cap(capped: httpx.AsyncClient) -> None:
    response = await capped.get(f"{PREFIX}/figures", params={"_size": "1"})
    body = response.json()
    assert (body["total"], body["total_is_exact"]) == (FIGURES_ROWS, True)
    assert response.headers["x-total-count"] == str(FIGURES_ROWS)


async def test_count_none_counts_nothing(capped: httpx.AsyncClient) -> None:
    params = {"metric__not": _unmatched(), "_count": "none"}
    response = await capped.get(f"{PREFIX}/figures", params=params)
    body = response.json()
    assert (body["total"], body["total_is_exact"]) == (None, None)
    assert "x-total-count" not in response.headers


async def test_openapi_types_total_is_exact(capped: httpx.AsyncClient) -> None:
    document = (await capped.get("/openapi.json")).json()
    pages = [
        schema
        for name, schema in document["components"]["schemas"].items()
        if name.endswith("FiguresPage")
    ]
    assert pages
    for page in pages:
        exact = page["properties"]["total_is_exact"]
        assert exact["anyOf"] == [{"type": "boolean"}, {"type": "null"}]
        assert "total_is_exact" in page["required"]
        assert "lower bound" in page["properties"]["total"]["description"]
    count = next(
        p
        for p in document["paths"][f"/v1/datasets/{FLAGSHIP}/{{version}}/figures"]["get"][
            "parameters"
        ]
        if p["name"] == "_count"
    )
    assert "bounded" in count["description"]
