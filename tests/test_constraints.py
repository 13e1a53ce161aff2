"""Filter values no row can hold are refused with the constraint that rules them out.

A small package of our own exercises every constraint on both backends (the foreign-key lookup
reads the database); the flagship cases pin the answers real clients hit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.config import Settings
from api.db.engine import writer_engine
from api.errors import BadQuery
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader
from api.main import create_app
from api.model import Reference
from api.query import parse_row_query
from tests.builders import field, write_release
from tests.helpers import BASE_URL, FLAGSHIP, table_spec

ISO_DATE = "[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?"
THINGS = [
    field("id", "integer", constraints={"required": True}),
    field("kind", constraints={"pattern": "[a-z]+"}),
    field("owner", "integer"),
    field("parent", "integer"),
    field("day", constraints={"pattern": ISO_DATE}),
    field("score", "integer", constraints={"minimum": 0, "maximum": 100}),
    field("label", constraints={"minLength": 2, "maxLength": 5}),
    field("colour", constraints={"enum": ["red", "blue"]}),
    field("weight", "number", constraints={"minimum": 0.5}),
]
THINGS_CSV = (
    "id,kind,owner,parent,day,score,label,colour,weight\n"
    "1,bird,1,,2025-09-30,0,ab,red,0.5\n"
    "2,fish,2,1,2025-10,50,abcde,blue,1\n"
    "3,bird,3,1,2025-10-15,100,xyz,,2\n"
    "4,tree,5,2,2026,7,,red,3\n"
)
KINDS_CSV = "code\nbird\nfish\ntree\n"
PEOPLE_CSV = "id\n1\n2\n3\n4\n5\n"
# kinds (3 rows) and parents (2) are looked up; people (5 rows) is too large.
REFERENCE_MAX_ROWS = 4
SCHEMAS: dict[str, tuple[dict[str, Any], str]] = {
    "kinds": ({"fields": [field("code")], "primaryKey": ["code"]}, KINDS_CSV),
    "people": ({"fields": [field("id", "integer")], "primaryKey": ["id"]}, PEOPLE_CSV),
    "parents": ({"fields": [field("id", "integer")], "primaryKey": ["id"]}, "id\n1\n2\n"),
    "things": (
        {
            "fields": THINGS,
            "primaryKey": ["id"],
            "foreignKeys": [
                {"fields": ["kind"], "reference": {"resource": "kinds", "fields": ["code"]}},
                {"fields": ["owner"], "reference": {"resource": "people", "fields": ["id"]}},
                {"fields": ["parent"], "reference": {"resource": "parents", "fields": ["id"]}},
            ],
        },
        THINGS_CSV,
    ),
}
THINGS_URL = "/v1/datasets/shapes/1.0.0/things"


@pytest.fixture
async def http(
    backend: str, make_database: Any, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The package above, loaded into a fresh database of `backend` and served."""
    datasets = tmp_path / "datasets"
    write_release(datasets, "shapes", "1.0.0", SCHEMAS)
    url = make_database(backend)
    engine = writer_engine(url)
    summary = ReleaseLoader(engine, quiet=True).load_all(find_releases(datasets))
    engine.dispose()
    assert summary.ok, (summary.refused, summary.conflicts)
    settings = Settings(
        database_url=url,
        base_url=BASE_URL,
        datasets_dir=datasets,
        reference_max_rows=REFERENCE_MAX_ROWS,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        yield client


REFUSED: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "pattern": ("kind=Bird", [("kind", "pattern-mismatch")]),
    "pattern-before-reference": ("kind=Cat", [("kind", "pattern-mismatch")]),
    "reference": ("kind=cat", [("kind", "unknown-reference")]),
    "reference-integer": ("parent=99", [("parent", "unknown-reference")]),
    "reference-each-member": (
        "kind__in=bird,cat,dog",
        [("kind__in", "unknown-reference"), ("kind__in", "unknown-reference")],
    ),
    "enum": ("colour=pink", [("colour", "not-in-enum")]),
    "enum-in-list": ("colour__in=red,pink", [("colour__in", "not-in-enum")]),
    "min-length": ("label=a", [("label", "length-out-of-range")]),
    "max-length": ("label=abcdef", [("label", "length-out-of-range")]),
    "minimum": ("score=-1", [("score", "out-of-range")]),
    "maximum": ("score=101", [("score", "out-of-range")]),
    "number-minimum": ("weight=0", [("weight", "out-of-range")]),
    "gt-above-maximum": ("score__gt=100", [("score__gt", "out-of-range")]),
    "gte-above-maximum": ("score__gte=101", [("score__gte", "out-of-range")]),
    "lt-below-minimum": ("score__lt=0", [("score__lt", "out-of-range")]),
    "lt-at-minimum": ("weight__lt=0.5", [("weight__lt", "out-of-range")]),
    "between-above-maximum": ("score__between=101..200", [("score__between", "out-of-range")]),
    "between-below-minimum": ("score__between=..-1", [("score__between", "out-of-range")]),
    "range-bounds-off-pattern": (
        "day__between=01/10/2025..31/12/2025",
        [("day__between", "pattern-mismatch"), ("day__between", "pattern-mismatch")],
    ),
    "gt-off-pattern": ("day__gt=2025/10", [("day__gt", "pattern-mismatch")]),
    "every-problem-at-once": (
        "kind=cat&score=101&day__lt=31/12/2025&label=a&colour__in=pink,red,green&_size=-1",
        [
            ("kind", "unknown-reference"),
            ("score", "out-of-range"),
            ("day__lt", "pattern-mismatch"),
            ("label", "length-out-of-range"),
            ("colour__in", "not-in-enum"),
            ("colour__in", "not-in-enum"),
            ("_size", "invalid-size"),
        ],
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize(("query", "expected"), list(REFUSED.values()), ids=list(REFUSED))
async def test_a_value_no_row_can_hold_is_refused(
    http: httpx.AsyncClient, query: str, expected: list[tuple[str, str]]
) -> None:
    response = await http.get(f"{THINGS_URL}?{query}")
    assert response.status_code == 400, response.text
    assert [(e["param"], e["code"]) for e in response.json()["errors"]] == expected


ANSWERED: dict[str, tuple[str, list[int]]] = {
    "reference-found": ("kind=bird", [1, 3]),
    "reference-list-found": ("kind__in=fish,tree", [2, 4]),
    "large-reference-not-looked-up": ("owner=99", []),
    "not-is-never-refused": ("kind__not=cat", [1, 2, 3, 4]),
    "notin-is-never-refused": ("colour__notin=pink,green", [1, 2, 3, 4]),
    "not-off-pattern": ("day__not=31/12/2025", [1, 2, 3, 4]),
    "partial-date-range": ("day__gte=2025-10", [2, 3, 4]),
    "partial-date-before-its-days": ("day__lte=2025-10", [1, 2]),
    "range-below-minimum-is-everything": ("score__gt=-5", [1, 2, 3, 4]),
    "range-at-maximum": ("score__gte=100", [3]),
    "between-meets-the-range": ("score__between=50..1000", [2, 3]),
    "text-search-not-refused": ("kind__contains=Z", []),
    "isnull": ("colour__isnull=1", [3]),
}


@pytest.mark.anyio
@pytest.mark.parametrize(("query", "ids"), list(ANSWERED.values()), ids=list(ANSWERED))
async def test_a_value_a_row_can_hold_is_answered(
    http: httpx.AsyncClient, query: str, ids: list[int]
) -> None:
    response = await http.get(f"{THINGS_URL}?{query}")
    assert response.status_code == 200, response.text
    assert [row["id"] for row in response.json()["rows"]] == ids


@pytest.mark.anyio
async def test_the_messages_name_the_constraint_and_the_table(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{THINGS_URL}?kind=cat&day__gte=1/10/2025&score__gt=100")
    assert response.json()["errors"] == [
        {
            "param": "kind",
            "code": "unknown-reference",
            "message": "'cat' is not a code of 'kinds', which column 'kind' refers to; see the "
            "kinds table for the values it can hold.",
        },
        {
            "param": "day__gte",
            "code": "pattern-mismatch",
            "message": f"'1/10/2025' does not match the pattern {ISO_DATE} of column 'day' "
            "(constraint pattern), so no row can hold it.",
        },
        {
            "param": "score__gt",
            "code": "out-of-range",
            "message": "Column 'score' holds no value above its maximum 100, so this range "
            "matches no row.",
        },
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "total"),
    [("_size=0&_count=exact", 2), ("_size=0", 2), ("_size=0&_count=none", None)],
)
async def test_size_zero_gives_the_count_alone(
    http: httpx.AsyncClient, query: str, total: int | None
) -> None:
    response = await http.get(f"{THINGS_URL}?{query}&kind=bird")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["size"], body["rows"], body["next"], body["next_url"]) == (
        total,
        0,
        [],
        None,
        None,
    )


@pytest.mark.anyio
async def test_size_zero_with_facets(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{THINGS_URL}?_size=0&_facet=kind")
    body = response.json()
    assert (body["total"], body["rows"]) == (4, [])
    assert body["facets"]["kind"] == [
        {"value": "bird", "count": 2},
        {"value": "fish", "count": 1},
        {"value": "tree", "count": 1},
    ]


FLAGSHIP_REFUSED: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "nationality-pattern": (
        "figures",
        "nationality=KOR",
        [("nationality", "pattern-mismatch")],
    ),
    "metric-reference": ("figures", "metric=deportations", [("metric", "unknown-reference")]),
    "as-of-day-first": (
        "figures",
        "as_of__between=01/10/2025..31/12/2025",
        [("as_of__between", "pattern-mismatch"), ("as_of__between", "pattern-mismatch")],
    ),
    "province-reference": (
        "figure_provinces",
        "province_code__in=KH-12,KH-26",
        [("province_code__in", "pattern-mismatch")],
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("resource", "query", "expected"),
    list(FLAGSHIP_REFUSED.values()),
    ids=list(FLAGSHIP_REFUSED),
)
async def test_flagship_values_no_row_can_hold(
    client: httpx.AsyncClient, resource: str, query: str, expected: list[tuple[str, str]]
) -> None:
    response = await client.get(f"/v1/datasets/{FLAGSHIP}/1.2.0/{resource}?{query}")
    assert response.status_code == 400, response.text
    assert [(e["param"], e["code"]) for e in response.json()["errors"]] == expected


@pytest.mark.anyio
async def test_flagship_unknown_metric_names_the_metrics_table(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/datasets/{FLAGSHIP}/1.2.0/figures?metric=deportations")
    assert response.json()["errors"] == [
        {
            "param": "metric",
            "code": "unknown-reference",
            "message": "'deportations' is not a code of 'metrics', which column 'metric' refers "
            "to; see the metrics table for the values it can hold.",
        }
    ]


@pytest.mark.anyio
async def test_flagship_iso_range_and_not_still_answer(client: httpx.AsyncClient) -> None:
    every = await client.get(f"/v1/datasets/{FLAGSHIP}/1.2.0/figures?_size=0")
    ranged = await client.get(
        f"/v1/datasets/{FLAGSHIP}/1.2.0/figures?as_of__between=2025-10-01..2025-12-31&_size=0"
    )
    excluded = await client.get(f"/v1/datasets/{FLAGSHIP}/1.2.0/figures?nationality__not=KOR")
    assert 0 < ranged.json()["total"] < every.json()["total"]
    assert excluded.json()["total"] == every.json()["total"]


PURE_FIELDS: list[dict[str, Any]] = [
    {"name": "id", "type": "integer"},
    {"name": "share", "type": "number", "constraints": {"exclusiveMinimum": 0, "maximum": 1}},
    {"name": "rank", "type": "integer", "constraints": {"minimum": 1, "exclusiveMaximum": 10}},
    {"name": "country", "type": "string", "constraints": {"pattern": "[A-Z]{2}"}},
]
PURE_SPEC = replace(
    table_spec(PURE_FIELDS, ["id"], name="pure"),
    references={"country": Reference("countries", "code", frozenset({"KH", "TH"}))},
)
PURE_CASES: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "exclusive-minimum": ([("share", "0")], [("share", "out-of-range")]),
    "exclusive-maximum": ([("rank", "10")], [("rank", "out-of-range")]),
    "gt-at-inclusive-maximum": ([("share__gt", "1")], [("share__gt", "out-of-range")]),
    "lte-at-exclusive-minimum": ([("share__lte", "0")], [("share__lte", "out-of-range")]),
    "gte-at-exclusive-maximum": ([("rank__gte", "10")], [("rank__gte", "out-of-range")]),
    "lt-at-inclusive-minimum": ([("rank__lt", "1")], [("rank__lt", "out-of-range")]),
    "unanchored-pattern-is-whole-value": ([("country", "KHM")], [("country", "pattern-mismatch")]),
    "reference": ([("country", "VN")], [("country", "unknown-reference")]),
    "reference-each-member": (
        [("country__in", "KH,VN,LA")],
        [("country__in", "unknown-reference"), ("country__in", "unknown-reference")],
    ),
}


@pytest.mark.parametrize(("params", "expected"), list(PURE_CASES.values()), ids=list(PURE_CASES))
def test_grammar_refuses_what_no_row_can_hold(
    params: list[tuple[str, str]], expected: list[tuple[str, str]]
) -> None:
    with pytest.raises(BadQuery) as raised:
        parse_row_query(PURE_SPEC, params, default_size=10, max_size=100)
    assert [(e.param, e.code) for e in raised.value.errors] == expected


PURE_ACCEPTED = [
    [("share", "1")],
    [("share__gt", "0")],
    [("share__lt", "0.001")],
    [("rank__lt", "10")],
    [("rank__gte", "9")],
    [("country", "KH")],
    [("country__in", "TH,KH")],
    [("country__not", "VN")],
    [("country__notin", "VN,KHM")],
    [("country__gte", "KA")],
]


@pytest.mark.parametrize("params", PURE_ACCEPTED)
def test_grammar_accepts_what_a_row_can_hold(params: list[tuple[str, str]]) -> None:
    parse_row_query(PURE_SPEC, params, default_size=10, max_size=100)


def test_a_range_bound_must_fit_the_pattern_of_any_text_column() -> None:
    with pytest.raises(BadQuery) as raised:
        parse_row_query(PURE_SPEC, [("country__gte", "K")], default_size=10, max_size=100)
    assert [(e.param, e.code) for e in raised.value.errors] == [
        ("country__gte", "pattern-mismatch")
    ]
