"""The diff API on both backends: whole JSON bodies, paging, exact CSV, caching, the flagship."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from api.diff.schema import diff_schemas
from api.ingest.release import folder_shape
from tests.builders import write_schema_file_releases
from tests.helpers import BASE_URL, FLAGSHIP, MakeDatabase, serving

DIFF_PATH = "/v1/datasets/{package}/diff"

Row = dict[str, Any]


# The diff API on the fixture package, on both backends -----------------------------------------


def figures(*compared: str) -> Row:
    return {
        "name": "figures",
        "status": "compared",
        "reason": None,
        "primary_key": ["figure_id"],
        "compared_fields": list(compared),
    }


def counts(added: int = 0, removed: int = 0, changed: int = 0, unchanged: int = 0) -> Row:
    return {"added": added, "removed": removed, "changed": changed, "unchanged": unchanged}


def unchanged(name: str, key: list[str], compared: list[str], rows: int) -> Row:
    return {
        "name": name,
        "status": "compared",
        "reason": None,
        "primary_key": key,
        "compared_fields": compared,
        "rows": counts(unchanged=rows),
    }


def links(old: str, new: str) -> Row:
    prefix = f"{BASE_URL}/v1/datasets/diffpkg"
    return {"from": f"{prefix}/{old}", "to": f"{prefix}/{new}"}


PATCH_BODY = {
    "package": "diffpkg",
    "from": "1.1.0",
    "to": "1.1.1",
    "resource": None,
    "required_bump": "patch",
    "declared_bump": "patch",
    "bump_ok": True,
    "reasons": [
        {
            "bump": "patch",
            "resource": "figures",
            "message": "1 row removed from resource 'figures'",
        },
        {"bump": "patch", "resource": "figures", "message": "1 row changed in resource 'figures'"},
    ],
    "schema_changes": [],
    "resources": [
        {**figures("region", "value", "day", "note", "rate", "source"), "rows": counts(0, 1, 1, 5)},
        unchanged("regions", ["code"], ["name"], 3),
        unchanged("events", ["day", "seq"], ["label"], 3),
        unchanged("sources", ["source_id"], ["url"], 2),
    ],
    "size": 100,
    "rows": [
        {
            "resource": "figures",
            "diff_type": "changed",
            "key": {"figure_id": "a-1"},
            "from_value": 30,
            "to_value": 31,
            "from_note": "lower case key",
            "to_note": None,
        },
        {
            "resource": "figures",
            "diff_type": "removed",
            "key": {"figure_id": "b-1"},
            "from_region": "north",
            "from_value": 50,
            "from_day": "2025-07-05",
            "from_note": None,
            "from_rate": 3.5,
            "from_source": None,
        },
    ],
    "next": None,
    "next_url": None,
    "links": links("1.1.0", "1.1.1"),
}

MAJOR_CHANGES = [
    (
        "field_removed",
        "figures",
        "note",
        None,
        None,
        None,
        "major",
        "field 'note' removed from resource 'figures'",
    ),
    (
        "constraint_tightened",
        "figures",
        "value",
        "minimum",
        0,
        1,
        "major",
        "constraint 'minimum' of field 'value' of resource 'figures' tightened from 0 to 1",
    ),
    (
        "field_retyped",
        "figures",
        "rate",
        None,
        "number",
        "string",
        "major",
        "field 'rate' of resource 'figures' retyped from number to string",
    ),
    (
        "primary_key_changed",
        "sources",
        None,
        None,
        ["source_id"],
        ["source_id", "lang"],
        "major",
        'primary key of resource \'sources\' changed from ["source_id"] to ["source_id", "lang"]',
    ),
    (
        "field_added",
        "sources",
        "lang",
        None,
        None,
        None,
        "minor",
        "field 'lang' added to resource 'sources'",
    ),
    ("resource_removed", "events", None, None, None, None, "major", "resource 'events' removed"),
]
CHANGE_KEYS = ("change", "resource", "field", "property", "from", "to", "bump", "message")

MAJOR_BODY = {
    "package": "diffpkg",
    "from": "1.1.1",
    "to": "2.0.0",
    "resource": None,
    "required_bump": "major",
    "declared_bump": "major",
    "bump_ok": True,
    "reasons": [
        {"bump": bump, "resource": resource, "message": message}
        for _, resource, _, _, _, _, bump, message in MAJOR_CHANGES
    ],
    "schema_changes": [dict(zip(CHANGE_KEYS, change, strict=True)) for change in MAJOR_CHANGES],
    "resources": [
        {**figures("region", "value", "day", "source"), "rows": counts(unchanged=6)},
        unchanged("regions", ["code"], ["name"], 3),
        {
            "name": "sources",
            "status": "not_comparable",
            "reason": 'its primary key changed from ["source_id"] to ["source_id", "lang"]',
            "primary_key": [],
            "compared_fields": [],
            "rows": None,
        },
        {
            "name": "events",
            "status": "removed",
            "reason": None,
            "primary_key": [],
            "compared_fields": [],
            "rows": None,
        },
    ],
    "size": 100,
    "rows": [],
    "next": None,
    "next_url": None,
    "links": links("1.1.1", "2.0.0"),
}

MINOR_FIGURES_BODY = {
    "package": "diffpkg",
    "from": "1.0.0",
    "to": "1.1.0",
    "resource": "figures",
    "required_bump": "minor",
    "declared_bump": "minor",
    "bump_ok": True,
    "reasons": [
        {"bump": "patch", "resource": None, "message": "'description' of the package edited"},
        {
            "bump": "minor",
            "resource": "figures",
            "message": "field 'source' added to resource 'figures'",
        },
        {
            "bump": "minor",
            "resource": "figures",
            "message": "constraint 'enum' of field 'region' of resource 'figures' loosened from"
            ' ["north", "south"] to ["north", "south", "west"]',
        },
        {"bump": "minor", "resource": "sources", "message": "resource 'sources' added"},
        {"bump": "minor", "resource": "figures", "message": "2 rows added to resource 'figures'"},
        {"bump": "patch", "resource": "figures", "message": "1 row changed in resource 'figures'"},
        {"bump": "minor", "resource": "regions", "message": "1 row added to resource 'regions'"},
    ],
    "schema_changes": [
        {
            "change": "field_added",
            "resource": "figures",
            "field": "source",
            "property": None,
            "from": None,
            "to": None,
            "bump": "minor",
            "message": "field 'source' added to resource 'figures'",
        },
        {
            "change": "constraint_loosened",
            "resource": "figures",
            "field": "region",
            "property": "enum",
            "from": ["north", "south"],
            "to": ["north", "south", "west"],
            "bump": "minor",
            "message": "constraint 'enum' of field 'region' of resource 'figures' loosened from"
            ' ["north", "south"] to ["north", "south", "west"]',
        },
    ],
    "resources": [
        {**figures("region", "value", "day", "note", "rate"), "rows": counts(2, 0, 1, 4)},
    ],
    "size": 100,
    "rows": [
        {
            "resource": "figures",
            "diff_type": "changed",
            "key": {"figure_id": "B-2"},
            "from_value": 20,
            "to_value": 25,
        },
        {
            "resource": "figures",
            "diff_type": "added",
            "key": {"figure_id": "C-3"},
            "to_region": "west",
            "to_value": 60,
            "to_day": "2025-07-20",
            "to_note": "new region",
            "to_rate": 4.0,
            "to_source": "s1",
        },
        {
            "resource": "figures",
            "diff_type": "added",
            "key": {"figure_id": "c-3"},
            "to_region": "west",
            "to_value": 70,
            "to_day": "2025-07-21",
            "to_note": None,
            "to_rate": None,
            "to_source": "s2",
        },
    ],
    "next": None,
    "next_url": None,
    "links": links("1.0.0", "1.1.0"),
}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "body"),
    [
        pytest.param("from=1.1.0&to=1.1.1", PATCH_BODY, id="patch"),
        pytest.param("from=1.1.1&to=2.0.0", MAJOR_BODY, id="major"),
        pytest.param(
            "from=1.0.0&to=1.1.0&resource=figures", MINOR_FIGURES_BODY, id="minor-figures"
        ),
    ],
)
async def test_diff_whole_json_body(diff_client: httpx.AsyncClient, query: str, body: Row) -> None:
    response = await diff_client.get(f"/v1/datasets/diffpkg/diff?{query}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.json() == body


async def _walk(client: httpx.AsyncClient, first: str) -> tuple[list[Row], int]:
    rows: list[Row] = []
    url: str | None = first
    pages = 0
    while url is not None:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["rows"])
        pages += 1
        url = body["next_url"]
        if url is not None:
            assert response.headers["link"] == f'<{url}>; rel="next"'
            parts = urlsplit(url)
            url = f"{parts.path}?{parts.query}"
    return rows, pages


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 2, 3, 5, 6])
async def test_paging_returns_each_change_once_in_order(
    diff_client: httpx.AsyncClient, size: int
) -> None:
    everything = (await diff_client.get("/v1/datasets/diffpkg/diff?from=1.0.0&to=latest")).json()
    assert [(r["resource"], r["diff_type"], r["key"]) for r in everything["rows"]] == [
        ("figures", "changed", {"figure_id": "B-2"}),
        ("figures", "added", {"figure_id": "C-3"}),
        ("figures", "changed", {"figure_id": "a-1"}),
        ("figures", "removed", {"figure_id": "b-1"}),
        ("figures", "added", {"figure_id": "c-3"}),
        ("regions", "added", {"code": "west"}),
    ]
    rows, pages = await _walk(
        diff_client, f"/v1/datasets/diffpkg/diff?from=1.0.0&to=latest&_size={size}"
    )
    assert rows == everything["rows"]
    assert pages == math.ceil(6 / size)


@pytest.mark.anyio
async def test_paging_from_latest_pins_the_versions(diff_client: httpx.AsyncClient) -> None:
    response = await diff_client.get("/v1/datasets/diffpkg/diff?from=1.0.0&to=latest&_size=4")
    body = response.json()
    assert response.headers["cache-control"] == "public, max-age=300"
    assert body["next"] == "figures.WyJiLTEiXQ"
    assert body["next_url"] == (
        f"{BASE_URL}/v1/datasets/diffpkg/diff?from=1.0.0&to=2.0.0&_size=4&_next=figures.WyJiLTEiXQ"
    )


FIGURES_CSV = (
    "figure_id,diff_type,from_region,to_region,from_value,to_value,from_day,to_day,"
    "from_note,to_note,from_rate,to_rate\r\n"
    "B-2,changed,south,south,20,25,2025-07-02,2025-07-02,,,1.25,1.25\r\n"
    "C-3,added,,west,,60,,2025-07-20,,new region,,4.0\r\n"
    "a-1,changed,north,north,30,31,2025-07-03,2025-07-03,lower case key,,,\r\n"
    "b-1,removed,north,,50,,2025-07-05,,,,3.5,\r\n"
    "c-3,added,,west,,70,,2025-07-21,,,,\r\n"
)
EVENTS_CSV = "day,seq,diff_type,from_label,to_label\r\n"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("from=1.0.0&to=1.1.1&resource=figures", FIGURES_CSV),
        ("from=1.0.0&to=1.1.1&resource=events", EVENTS_CSV),
    ],
)
async def test_diff_csv_exact_text(diff_client: httpx.AsyncClient, query: str, text: str) -> None:
    response = await diff_client.get(f"/v1/datasets/diffpkg/diff.csv?{query}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text == text


@pytest.mark.anyio
async def test_backwards_diff_swaps_added_and_removed(diff_client: httpx.AsyncClient) -> None:
    body = (await diff_client.get("/v1/datasets/diffpkg/diff?from=1.1.1&to=1.1.0")).json()
    assert (body["required_bump"], body["declared_bump"], body["bump_ok"]) == ("minor", None, None)
    assert [(r["diff_type"], r["key"]) for r in body["rows"]] == [
        ("changed", {"figure_id": "a-1"}),
        ("added", {"figure_id": "b-1"}),
    ]


@pytest.mark.anyio
async def test_etag_gives_304(diff_client: httpx.AsyncClient) -> None:
    url = "/v1/datasets/diffpkg/diff?from=1.1.0&to=1.1.1"
    first = await diff_client.get(url)
    again = await diff_client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    other = await diff_client.get(url + "&resource=figures")
    assert other.headers["etag"] != first.headers["etag"]


FLAGSHIP_COUNTS = {
    "reports": (20, 32),
    "figures": (83, 176),
    "figure_provinces": (36, 66),
    "deportation_events": (4, 5),
    "deportation_event_reports": (5, 10),
    "report_nationalities": (65, 152),
    "province_mentions": (22, 65),
    "metrics": (0, 41),
    "provinces": (0, 25),
    "countries": (0, 28),
}


@pytest.mark.anyio
async def test_flagship_diff_first_to_second_release(
    client: httpx.AsyncClient,
) -> None:
    url = f"/v1/datasets/{FLAGSHIP}/diff?from=1.0.0&to=1.1.0&_size=1000"
    body = (await client.get(url)).json()
    assert (body["required_bump"], body["declared_bump"], body["bump_ok"]) == (
        "minor",
        "minor",
        True,
    )
    assert [(c["change"], c["resource"], c["property"]) for c in body["schema_changes"]] == [
        ("metadata_changed", None, "description"),
        ("metadata_changed", None, "sources"),
        ("metadata_changed", None, "x-catalog"),
    ]
    assert {
        r["name"]: (
            r["status"],
            r["rows"]["added"],
            r["rows"]["removed"],
            r["rows"]["changed"],
            r["rows"]["unchanged"],
        )
        for r in body["resources"]
    } == {name: ("compared", added, 0, 0, kept) for name, (added, kept) in FLAGSHIP_COUNTS.items()}
    assert len(body["rows"]) == 235
    assert {r["diff_type"] for r in body["rows"]} == {"added"}
    assert body["next"] is None


# A release whose schema is a file of its own is diffed whole -----------------------------------


@pytest.fixture
async def schema_file_client(
    tmp_path: Path, make_database: MakeDatabase, backend: str
) -> AsyncIterator[httpx.AsyncClient]:
    write_schema_file_releases(tmp_path / "datasets")
    async with serving(make_database(backend), tmp_path / "datasets") as client:
        yield client


@pytest.mark.anyio
async def test_api_diff_sees_the_schema_file(
    schema_file_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The foreign key added in the schema file is a change the API diff reports."""
    datasets = tmp_path / "datasets"
    local = diff_schemas(
        folder_shape(datasets / "split" / "1.0.0" / "datapackage.json"),
        folder_shape(datasets / "split" / "1.0.1" / "datapackage.json"),
    )
    served = (await schema_file_client.get("/v1/datasets/split/diff?from=1.0.0&to=1.0.1")).json()
    assert local
    assert len(served["schema_changes"]) == len(local)
    assert served["required_bump"] == max(change.bump for change in local).label
    assert served["bump_ok"] is False
