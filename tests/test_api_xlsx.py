"""Excel downloads: the same rows as JSON, a sheet that says what the file is, stable bytes."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from openpyxl import load_workbook

from tests.helpers import BASE_URL, DATASETS, FLAGSHIP

pytestmark = pytest.mark.anyio
PINNED = f"/v1/datasets/{FLAGSHIP}/1.2.0"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _csv_rows(resource: str) -> list[dict[str, str]]:
    path = DATASETS / FLAGSHIP / "1.2.0" / "data" / f"{resource}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


async def test_workbook_holds_the_filtered_rows_and_says_what_it_is(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"{PINNED}/deportation_events.xlsx?nationality=KR&_dl=1")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{FLAGSHIP}-1.2.0-deportation_events-filtered-2288996d.xlsx"'
    )
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["deportation_events", "about"]
    rows = list(workbook["deportation_events"].iter_rows(values_only=True))
    expected = [r for r in _csv_rows("deportation_events") if r["nationality"] == "KR"]
    assert rows[0] == tuple(expected[0].keys())
    assert [row[0] for row in rows[1:]] == sorted(r["event_id"] for r in expected)
    counts = {row[0]: row[rows[0].index("persons_deported")] for row in rows[1:]}
    assert counts == {r["event_id"]: int(r["persons_deported"]) for r in expected}
    about = dict(workbook["about"].iter_rows(values_only=True))
    assert about["package"] == FLAGSHIP
    assert about["version"] == "1.2.0"
    assert about["licence"] == "Creative Commons Attribution 4.0"
    assert about["filters"] == "nationality exact KR"
    assert about["descriptor"] == f"{BASE_URL}{PINNED}/datapackage.json"
    assert f"{BASE_URL}{PINNED}/datapackage.json" in str(about["citation"])
    assert "(Version 1.2.0)" in str(about["citation"])
    assert "*" not in str(about["citation"])  # plain text: no Markdown emphasis


async def test_pinned_workbook_is_the_same_bytes_every_time(client: httpx.AsyncClient) -> None:
    first = await client.get(f"{PINNED}/metrics.xlsx")
    second = await client.get(f"{PINNED}/metrics.xlsx")
    assert first.content == second.content
    etag = first.headers["etag"]
    cached = await client.get(f"{PINNED}/metrics.xlsx", headers={"If-None-Match": etag})
    assert (cached.status_code, cached.content) == (304, b"")


async def test_latest_workbook_is_the_pinned_one(client: httpx.AsyncClient) -> None:
    """Same ETag, same bytes: the about sheet names the pinned URL either way."""
    latest_pinned = f"/v1/datasets/{FLAGSHIP}/1.3.1"
    latest = await client.get(f"/v1/datasets/{FLAGSHIP}/latest/metrics.xlsx?_sort=-code")
    pinned = await client.get(f"{latest_pinned}/metrics.xlsx?_sort=-code")
    assert latest.headers["etag"] == pinned.headers["etag"]
    assert latest.content == pinned.content
    about = dict(load_workbook(io.BytesIO(latest.content))["about"].iter_rows(values_only=True))
    assert about["source"] == f"{BASE_URL}{latest_pinned}/metrics.xlsx?_sort=-code"


async def test_accept_header_negotiates_a_workbook(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PINNED}/countries", headers={"Accept": XLSX})
    assert response.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(response.content))["countries"]
    assert sheet.max_row == len(_csv_rows("countries")) + 1


async def test_bad_query_is_a_problem_before_any_workbook(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PINNED}/figures.xlsx?value__gt=lots")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert [(e["param"], e["code"]) for e in response.json()["errors"]] == [
        ("value__gt", "invalid-value")
    ]


async def test_too_large_workbook_is_documented(client: httpx.AsyncClient) -> None:
    """The rows operation lists the 413, and its problem type says what it means."""
    openapi = (await client.get("/openapi.json")).json()
    operation = openapi["paths"][f"/v1/datasets/{FLAGSHIP}/{{version}}/figures"]["get"]
    content = operation["responses"]["413"]["content"]
    assert content == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    described = (await client.get("/problems/export-too-large")).json()
    assert (described["status"], described["title"]) == (413, "Export too large")
    assert "csv_url" in described["description"]
