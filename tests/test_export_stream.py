"""Streams longer than one fetch batch: every row once, in order, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from api.db.streams import STREAM_BATCH
from tests.builders import field, write_release
from tests.helpers import MakeDatabase, serving

ROW_COUNT = 2 * STREAM_BATCH + 3  # two full batches and a short one
SCHEMA: dict[str, Any] = {
    "fields": [
        field("id", "integer"),
        field("day", "date"),
        field("flag", "boolean"),
        field("label"),
    ],
    "primaryKey": ["id"],
}
HEADER = "id,day,flag,label"
LINES = [
    f"{n},{date(2025, 6, 1) + timedelta(days=n % 400)},{'true' if n % 3 == 0 else 'false'},"
    f'"item {n}, ""quoted"""'
    for n in range(1, ROW_COUNT + 1)
]
ROWS_URL = "/v1/datasets/many/1.0.0/items"


def _document(lines: list[str]) -> str:
    return "\r\n".join([HEADER, *lines]) + "\r\n"


@pytest.fixture
async def http(
    backend: str, make_database: MakeDatabase, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    datasets = tmp_path / "datasets"
    write_release(datasets, "many", "1.0.0", {"items": (SCHEMA, _document(LINES))})
    async with serving(make_database(backend), datasets) as client:
        yield client


@pytest.mark.anyio
async def test_sorted_export_is_every_row_once(http: httpx.AsyncClient) -> None:
    ascending = await http.get(f"{ROWS_URL}.csv", params={"_sort": "id"})
    assert ascending.text == _document(LINES)
    descending = await http.get(f"{ROWS_URL}.csv", params={"_sort": "-id"})
    assert descending.text == _document(LINES[::-1])


@pytest.mark.anyio
async def test_filtered_export_keeps_its_rows(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{ROWS_URL}.csv", params={"flag": "false", "_sort": "id"})
    expected = [line for line in LINES if ",false," in line]
    assert len(expected) > STREAM_BATCH
    assert response.text == _document(expected)


@pytest.mark.anyio
async def test_projection_without_the_sort_column(http: httpx.AsyncClient) -> None:
    """The sort column is selected for the order but not written."""
    response = await http.get(f"{ROWS_URL}.csv", params={"_col": "label", "_sort": "-day,id"})
    lines = response.text.split("\r\n")
    assert lines[0] == "label"
    assert len(lines) == ROW_COUNT + 2  # header, rows, and the empty string after the last CRLF
    assert sorted(lines[1:-1]) == sorted(line.split(",", 3)[3] for line in LINES)


@pytest.mark.anyio
async def test_ndjson_stream_is_every_row_once(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{ROWS_URL}.ndjson", params={"_sort": "id"})
    rows = [orjson.loads(line) for line in response.text.splitlines()]
    assert [row["id"] for row in rows] == list(range(1, ROW_COUNT + 1))
    assert rows[-1] == {
        "id": ROW_COUNT,
        "day": str(date(2025, 6, 1) + timedelta(days=ROW_COUNT % 400)),
        "flag": ROW_COUNT % 3 == 0,
        "label": f'item {ROW_COUNT}, "quoted"',
    }
