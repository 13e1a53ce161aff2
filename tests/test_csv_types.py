"""Rendered CSV of every Table Schema type: the published text back, and readable by its schema.

The published file below writes each value in the form the rendered export writes it, so a
filtered export of the whole table must return it byte for byte; frictionless then reads the
export with the published schema and finds the same rows as in the published file. A resource
published as inline `data` has no file: its unfiltered CSV is rendered too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import frictionless
import httpx
import orjson
import pytest

from tests.builders import LICENSE, field, write_release
from tests.helpers import MakeDatabase, serving

FIELDS = [
    field("id", "integer"),
    field("text"),
    field("flag", "boolean"),
    field("answer", "boolean", trueValues=["yes"], falseValues=["no"]),
    field("amount", "number"),
    field("year", "year"),
    field("month", "yearmonth"),
    field("day", "date"),
    field("day_local", "date", format="%d/%m/%Y"),
    field("moment", "datetime"),
    field("clock", "time"),
    field("span", "duration"),
    field("point", "geopoint"),
    field("point_array", "geopoint", format="array"),
    field("shape", "geojson"),
    field("details", "object"),
    field("items", "array"),
    field("tags", "list", delimiter=";"),
    field("anything", "any"),
]
HEADER = ",".join(f["name"] for f in FIELDS)
ROWS = [
    '1,Phnom Penh,true,yes,1.5,2025,2025-07,2025-07-01,01/07/2025,2025-07-01T08:30:00,08:30:00,'
    'P1DT2H,"104.9, 11.55","[104.9,11.55]","{""type"":""Point"",""coordinates"":[104.9,11.55]}",'
    '"{""a"":1,""b"":[true,null]}","[1,""x""]",a;b,anything',
    '2,"Sihanoukville, ""SHV""",false,no,-3.0,1999,1999-12,1999-12-31,31/12/1999,'
    "1999-12-31T23:59:59,23:59:59,PT45M,\"0.0, -1.25\",\"[0.0,-1.25]\","
    '"{""type"":""Point"",""coordinates"":[0.0,-1.25]}",{},[],c,42',
    "3,,,,,,,,,,,,,,,,,,",
]
PUBLISHED = "\r\n".join([HEADER, *ROWS]) + "\r\n"
SCHEMA: dict[str, Any] = {"fields": FIELDS, "primaryKey": ["id"]}
ROWS_URL = "/v1/datasets/types/1.0.0/things"


@pytest.fixture
async def http(
    backend: str, make_database: MakeDatabase, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    datasets = tmp_path / "datasets"
    write_release(datasets, "types", "1.0.0", {"things": (SCHEMA, PUBLISHED)})
    async with serving(make_database(backend), datasets) as client:
        yield client


def _read(text: str, folder: Path) -> list[dict[str, Any]]:
    """The rows frictionless reads from CSV text with the published schema (errors fail)."""
    path = folder / "export.csv"
    path.write_text(text, encoding="utf-8", newline="")
    def resource() -> frictionless.Resource:
        schema = frictionless.Schema.from_descriptor(SCHEMA)
        return frictionless.Resource(path=path.name, basepath=str(folder), schema=schema)

    report = frictionless.validate(resource())
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    with resource() as reading:
        return [row.to_dict() for row in reading.row_stream]


@pytest.mark.anyio
async def test_rendered_export_is_the_published_text(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{ROWS_URL}.csv", params={"_sort": "id"})
    assert response.status_code == 200
    assert response.text == PUBLISHED


@pytest.mark.anyio
async def test_filtered_export_reads_back_with_the_schema(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    published = _read(PUBLISHED, tmp_path)
    response = await http.get(f"{ROWS_URL}.csv", params={"id__in": "1,2", "_sort": "-id"})
    assert response.status_code == 200
    assert _read(response.text, tmp_path) == [published[1], published[0]]


@pytest.mark.anyio
async def test_projected_export_converts_only_its_columns(http: httpx.AsyncClient) -> None:
    response = await http.get(
        f"{ROWS_URL}.csv",
        params={"_col": "answer,tags,day", "_sort": "moment", "_delimiter": ";"},
    )
    expected = 'answer;day;tags\r\nno;1999-12-31;c\r\nyes;2025-07-01;"a;b"\r\n;;\r\n'
    assert response.text == expected


FIRST_ROW_AS_JSON = {
    "id": 1,
    "text": "Phnom Penh",
    "flag": True,
    "answer": True,
    "amount": 1.5,
    "year": 2025,
    "month": "2025-07",
    "day": "2025-07-01",
    "day_local": "2025-07-01",
    "moment": "2025-07-01T08:30:00",
    "clock": "08:30:00",
    "span": "P1DT2H",
    "point": [104.9, 11.55],
    "point_array": [104.9, 11.55],
    "shape": {"type": "Point", "coordinates": [104.9, 11.55]},
    "details": {"a": 1, "b": [True, None]},
    "items": [1, "x"],
    "tags": ["a", "b"],
    "anything": "anything",
}


@pytest.mark.anyio
async def test_ndjson_values_are_typed(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{ROWS_URL}.ndjson", params={"id": "1"})
    (row,) = [orjson.loads(line) for line in response.text.splitlines()]
    assert row == FIRST_ROW_AS_JSON


@pytest.mark.anyio
async def test_json_page_values_are_typed(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{ROWS_URL}.json", params={"id": "1"})
    assert response.json()["rows"] == [FIRST_ROW_AS_JSON]


SORTS = ["moment", "-clock", "day_local,-flag", "-amount", "span,year", "-month"]


@pytest.mark.anyio
@pytest.mark.parametrize("sort", SORTS)
async def test_paging_one_row_at_a_time_visits_every_row(
    http: httpx.AsyncClient, sort: str
) -> None:
    """Cursors over every kind of sort column carry typed values and resume exactly."""
    everything = await http.get(f"{ROWS_URL}.json", params={"_sort": sort, "_size": 10})
    expected = [row["id"] for row in everything.json()["rows"]]
    seen: list[int] = []
    url: str | None = f"{ROWS_URL}.json?_sort={sort}&_size=1"
    while url:
        page = (await http.get(url)).json()
        seen += [row["id"] for row in page["rows"]]
        url = page["next_url"]
    assert seen == expected
    assert sorted(seen) == [1, 2, 3]


@pytest.mark.anyio
async def test_unfiltered_csv_of_inline_data_is_rendered(
    tmp_path: Path, make_database: MakeDatabase
) -> None:
    folder = tmp_path / "datasets" / "inline" / "1.0.0"
    folder.mkdir(parents=True)
    descriptor = {
        "name": "inline",
        "title": "Inline",
        "version": "1.0.0",
        "licenses": [LICENSE],
        "created": "2025-01-01T00:00:00Z",
        "resources": [
            {
                "name": "things",
                "data": [["id", "label"], [1, "a"], [2, "b"]],
                "schema": {
                    "fields": [field("id", "integer"), field("label")],
                    "primaryKey": ["id"],
                },
            }
        ],
    }
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    async with serving(make_database("sqlite"), tmp_path / "datasets") as http:
        for query in ("", "?_dl=1"):
            response = await http.get(f"/v1/datasets/inline/1.0.0/things.csv{query}")
            assert (response.status_code, response.text) == (200, "id,label\r\n1,a\r\n2,b\r\n")
