"""`_expand`: rows with the row each foreign key refers to, checked against a join of the
released CSV files of the flagship (`figures.report_id` → `reports`), in every format."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from jsonschema import Draft202012Validator
from openpyxl import load_workbook

from api.errors import BadQuery
from api.model import ForeignKey
from api.query import build_select, parse_row_query
from tests.helpers import DATASETS, FLAGSHIP, table_spec
from tests.problem_body import problem_body

pytestmark = pytest.mark.anyio
RELEASES = DATASETS / FLAGSHIP
VERSION = max(
    (path.name for path in RELEASES.iterdir() if (path / "datapackage.json").is_file()),
    key=lambda name: tuple(int(part) for part in name.split(".")),
)
FIGURES = f"/v1/datasets/{FLAGSHIP}/{VERSION}/figures"

Row = dict[str, str]


def _released(resource: str) -> list[Row]:
    path = RELEASES / VERSION / "data" / f"{resource}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


REPORTS = _released("reports")
REPORT_COLUMNS = list(REPORTS[0])
FIGURE_COLUMNS = list(_released("figures")[0])


def _joined(
    figure_columns: list[str] | None = None, report_columns: list[str] | None = None
) -> list[Row]:
    """Every figure, in primary-key order, with the columns of its report as `report_id.x`."""
    reports = {report["report_id"]: report for report in REPORTS}
    joined = []
    for figure in sorted(_released("figures"), key=lambda row: row["figure_id"]):
        row = {name: figure[name] for name in figure_columns or FIGURE_COLUMNS}
        report = reports[figure["report_id"]]
        row.update({f"report_id.{n}": report[n] for n in report_columns or REPORT_COLUMNS})
        joined.append(row)
    return joined


def _text(value: Any) -> str:
    """A typed value as the released CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):  # openpyxl reads every date cell back as a datetime
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _flat(row: dict[str, Any]) -> Row:
    """A JSON row with its nested objects spelled as dotted columns, values as CSV text."""
    flat: Row = {}
    for name, value in row.items():
        if isinstance(value, dict):
            flat.update({f"{name}.{inner}": _text(v) for inner, v in value.items()})
        else:
            flat[name] = _text(value)
    return flat


def _csv(response: httpx.Response) -> list[Row]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


async def _all_pages(client: httpx.AsyncClient, url: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Every row of a JSON query, following `next_url`; the columns of the first page."""
    body = (await client.get(url)).json()
    columns, rows = body["columns"], list(body["rows"])
    pages = 1
    while body["next_url"]:
        body = (await client.get(body["next_url"])).json()
        assert body["columns"] == columns
        rows += body["rows"]
        pages += 1
    assert pages > 1
    return columns, rows


async def test_csv_is_the_join_of_the_released_files(client: httpx.AsyncClient) -> None:
    expected = _joined()
    got = _csv(await client.get(f"{FIGURES}.csv?_expand=report_id"))
    assert list(got[0]) == list(expected[0])
    assert got == expected


async def test_json_pages_nest_the_report_and_page_with_a_cursor(
    client: httpx.AsyncClient,
) -> None:
    columns, rows = await _all_pages(client, f"{FIGURES}?_expand=report_id&_size=100")
    expected = _joined()
    assert columns == list(expected[0])
    assert list(rows[0]) == FIGURE_COLUMNS  # the report in place of its key
    assert list(rows[0]["report_id"]) == REPORT_COLUMNS
    assert [_flat(row) for row in rows] == [
        {k: v for k, v in row.items() if k != "report_id"} for row in expected
    ]


async def test_ndjson_nests_the_report(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{FIGURES}.ndjson?_expand=report_id")
    assert response.status_code == 200
    rows = [orjson.loads(line) for line in response.text.splitlines()]
    expected = [{k: v for k, v in row.items() if k != "report_id"} for row in _joined()]
    assert [_flat(row) for row in rows] == expected


async def test_xlsx_holds_the_join(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{FIGURES}.xlsx?_expand=report_id")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content))["figures"]
    header, *values = list(sheet.iter_rows(values_only=True))
    expected = _joined()
    assert list(header) == list(expected[0])
    got = [dict(zip(header, (_text(v) for v in row), strict=True)) for row in values]
    assert got == expected


async def test_referenced_and_own_columns_are_chosen_apart(client: httpx.AsyncClient) -> None:
    query = "_expand=report_id&_col=figure_id,value&_col=report_id.url&_col=report_id.title"
    expected = _joined(["figure_id", "value"], ["title", "url"])
    assert _csv(await client.get(f"{FIGURES}.csv?{query}")) == expected
    # Only referenced columns chosen: every own column stays.
    only = _csv(await client.get(f"{FIGURES}.csv?_expand=report_id&_col=report_id.title"))
    assert only == _joined(report_columns=["title"])
    dropped = _csv(await client.get(f"{FIGURES}.csv?_expand=report_id&_nocol=report_id.notes"))
    assert dropped == _joined(report_columns=[c for c in REPORT_COLUMNS if c != "notes"])
    # A sort column left out of the projection still carries the cursor, after the report's.
    sorted_query = f"{query}&_sort=-as_of_date&_size=50"
    columns, rows = await _all_pages(client, f"{FIGURES}?{sorted_query}")
    assert columns == ["figure_id", "value", "report_id.title", "report_id.url"]
    by_id = {row["figure_id"]: row for row in expected}
    figures = {row["figure_id"]: row for row in _released("figures")}
    order = sorted(
        figures, key=lambda f: (-date.fromisoformat(figures[f]["as_of_date"]).toordinal(), f)
    )
    assert [_flat(row) for row in rows] == [by_id[f] for f in order]


async def test_filters_sorts_facets_and_counts_are_about_the_table(
    client: httpx.AsyncClient,
) -> None:
    query = "metric=suspects_detained&_sort=-value&_facet=qualifier&_count=exact&_size=1000"
    plain = (await client.get(f"{FIGURES}?{query}")).json()
    expanded = (await client.get(f"{FIGURES}?{query}&_expand=report_id,metric")).json()
    for key in ("filters", "sort", "total", "total_is_exact", "facets", "next"):
        assert expanded[key] == plain[key], key
    assert [row["figure_id"] for row in expanded["rows"]] == [
        row["figure_id"] for row in plain["rows"]
    ]
    reports = {report["report_id"]: report for report in REPORTS}
    for before, after in zip(plain["rows"], expanded["rows"], strict=True):
        assert after["metric"]["code"] == before["metric"] == "suspects_detained"
        report = after["report_id"]
        assert {k: _text(v) for k, v in report.items()} == reports[before["report_id"]]
        rest = {k: v for k, v in after.items() if k not in ("report_id", "metric")}
        assert rest == {k: v for k, v in before.items() if k not in ("report_id", "metric")}


async def test_a_missing_key_refers_to_nothing(client: httpx.AsyncClient) -> None:
    query = "nationality__isnull=1&_expand=nationality&_size=3"
    rows = (await client.get(f"{FIGURES}?{query}")).json()["rows"]
    assert rows and all(row["nationality"] is None for row in rows)
    text = _csv(await client.get(f"{FIGURES}.csv?nationality__isnull=1&_expand=nationality"))
    assert text and all(row["nationality.name_en"] == "" for row in text)
    named = (await client.get(f"{FIGURES}?nationality=KR&_expand=nationality&_size=1")).json()
    assert named["rows"][0]["nationality"]["code"] == "KR"


async def test_caching_is_unchanged(client: httpx.AsyncClient) -> None:
    plain = await client.get(f"{FIGURES}.csv?metric=suspects_detained")
    expanded = await client.get(f"{FIGURES}.csv?metric=suspects_detained&_expand=report_id")
    assert expanded.headers["cache-control"] == plain.headers["cache-control"]
    assert expanded.headers["etag"] != plain.headers["etag"]
    again = await client.get(f"{FIGURES}.csv?metric=suspects_detained&_expand=report_id")
    assert (again.headers["etag"], again.content) == (expanded.headers["etag"], expanded.content)
    cached = await client.get(
        f"{FIGURES}.csv?metric=suspects_detained&_expand=report_id",
        headers={"If-None-Match": expanded.headers["etag"]},
    )
    assert (cached.status_code, cached.content) == (304, b"")


async def test_an_expanded_page_is_valid_against_its_openapi_schema(
    client: httpx.AsyncClient,
) -> None:
    openapi = (await client.get("/openapi.json")).json()
    operation = openapi["paths"][f"/v1/datasets/{FLAGSHIP}/{{version}}/figures"]["get"]
    expand = next(p for p in operation["parameters"] if p["name"] == "_expand")
    assert expand["schema"] == {
        "type": "array",
        "items": {"type": "string", "enum": ["report_id", "metric", "nationality"]},
    }
    reference = openapi["components"]["schemas"]["CambodiaScamCrackdownReportsReference"]
    assert list(reference["properties"]) == REPORT_COLUMNS
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = {"$ref": ref, "components": openapi["components"]}
    for query in ("_expand=report_id,nationality&_size=20", "_expand=metric&_col=metric.unit"):
        body = (await client.get(f"{FIGURES}?{query}")).json()
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(body)]
        assert errors == [], query


EXPAND_PROBLEMS: list[tuple[str, list[tuple[str, str, str]]]] = [
    (
        "_expand=value",
        [
            (
                "_expand",
                "not-a-foreign-key",
                "Column 'value' holds no foreign key; the columns that can be expanded are: "
                "report_id, metric, nationality.",
            )
        ],
    ),
    (
        "_expand=nope",
        [("_expand", "unknown-column", "No column 'nope' in this table; the columns are: ")],
    ),
    (
        "_expand=report_id&_col=report_id.nope",
        [
            (
                "_col",
                "unknown-column",
                "No column 'nope' in 'reports', which 'report_id' refers to; its columns are: "
                + ", ".join(REPORT_COLUMNS)
                + ".",
            )
        ],
    ),
    (
        "_col=report_id.title",
        [
            (
                "_col",
                "not-expanded",
                "'report_id.title' is a column of the row 'report_id' refers to; "
                "add _expand=report_id to return it.",
            )
        ],
    ),
    (
        "_expand=metric&_nocol=metric.code,metric.label,metric.unit,metric.definition",
        [("_nocol", "invalid-control", "No columns of 'metrics' are left to return for metric.")],
    ),
    (
        "_expand=report_id&_sort=report_id.title",
        [("_sort", "unknown-column", "No column 'report_id.title' in this table")],
    ),
    (
        "report_id.title=x&_expand=report_id",
        [("report_id.title", "unknown-column", "No column 'report_id.title' in this table")],
    ),
    (
        "_expand=figure_id,metric&_nocol=metric.nope&_size=0&_col=report_id.url",
        [
            ("_expand", "not-a-foreign-key", "Column 'figure_id' holds no foreign key"),
            ("_nocol", "unknown-column", "No column 'nope' in 'metrics'"),
            ("_col", "not-expanded", "'report_id.url' is a column of the row 'report_id'"),
        ],
    ),
]


@pytest.mark.parametrize(("query", "expected"), EXPAND_PROBLEMS)
@pytest.mark.parametrize("suffix", ["", ".csv", ".ndjson", ".xlsx"])
async def test_bad_expansions_are_a_400_naming_every_problem(
    client: httpx.AsyncClient, query: str, expected: list[tuple[str, str, str]], suffix: str
) -> None:
    if suffix and "_size" in query:
        expected = [
            *expected[:2],
            ("_size", "not-for-format", "_size applies to JSON"),
            expected[2],
        ]
    response = await client.get(f"{FIGURES}{suffix}?{query}")
    assert response.status_code == 400
    body = problem_body(response)
    assert body["type"] == "/problems/bad-query"
    errors = [(e["param"], e["code"], e["message"]) for e in body["errors"]]
    assert [(param, code) for param, code, _ in errors] == [(p, c) for p, c, _ in expected]
    for (_, _, message), (_, _, start) in zip(errors, expected, strict=True):
        assert message.startswith(start), message


# --- the grammar and the SQL, without HTTP ---------------------------------------------------

PLACES = [{"name": "code", "type": "string"}, {"name": "name", "type": "string"}]
PAIRS = [{"name": "code", "type": "string"}, {"name": "year", "type": "integer"}]
SITES = [
    {"name": "id", "type": "integer"},
    {"name": "place", "type": "string"},
    {"name": "year", "type": "integer"},
    {"name": "name", "type": "string"},
    {"name": "place.name", "type": "string"},
]


def _sites(*keys: ForeignKey) -> Any:
    return replace(table_spec(SITES, ["id"], name="sites"), foreign_keys=keys)


def _problems(spec: Any, params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    with pytest.raises(BadQuery) as raised:
        parse_row_query(spec, params, default_size=10, max_size=100)
    return [(e.param, e.code) for e in raised.value.errors]


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (
            ForeignKey(
                ("place", "year"), "pairs", ("code", "year"), table_spec(PAIRS, ["code", "year"])
            ),
            "not-expandable",
        ),
        (
            ForeignKey(("place",), "places", ("name",), table_spec(PLACES, ["code"])),
            "not-expandable",
        ),
        (ForeignKey(("place",), "gone", ("code",), None), "not-expandable"),
    ],
    ids=["several-fields", "not-unique", "not-served"],
)
def test_only_a_one_field_key_onto_a_unique_field_expands(key: ForeignKey, code: str) -> None:
    assert _problems(_sites(key), [("_expand", "place")]) == [("_expand", code)]


def test_a_unique_field_expands_and_a_clashing_name_is_refused() -> None:
    places = table_spec(
        [PLACES[0], {**PLACES[1], "constraints": {"unique": True}}], ["code"], name="places"
    )
    spec = _sites(ForeignKey(("place",), "places", ("name",), places))
    assert _problems(spec, [("_expand", "place")]) == [("_expand", "column-name-clash")]
    # `_nocol=place.name` means the table's own column; `_col` chooses the referenced ones.
    assert _problems(spec, [("_expand", "place"), ("_nocol", "place.name")]) == [
        ("_expand", "column-name-clash")
    ]
    query = parse_row_query(
        spec, [("_expand", "place"), ("_col", "place.code")], default_size=10, max_size=100
    )
    assert query.output_columns == (*spec.column_names, "place.code")
    # The table's own `place.name` is the column of that name, never the referenced one.
    own = parse_row_query(
        spec,
        [("_expand", "place"), ("_col", "place.name"), ("_col", "place.code")],
        default_size=10,
        max_size=100,
    )
    assert own.columns == ("place.name",)
    assert own.output_columns == ("place.name", "place.code")


def test_each_followed_key_is_one_left_join() -> None:
    places = table_spec(PLACES, ["code"], name="places")
    spec = _sites(ForeignKey(("place",), "places", ("code",), places))
    params = [("_expand", "place,place"), ("_col", "place.code"), ("_col", "id,year")]
    query = parse_row_query(spec, params, default_size=10, max_size=100)
    plan = build_select(spec, query, limit=None)
    sql = str(plan.select.compile(dialect=sa.dialects.sqlite.dialect()))
    assert sql.count(" JOIN ") == 1
    assert "LEFT OUTER JOIN places AS expanded_0 ON expanded_0.code = sites.place" in sql
    assert plan.output_columns == ("id", "year", "place.code")
    assert plan.output_row((1, 2025, "KH-12", "extra")) == (1, 2025, "KH-12")


def test_a_table_can_expand_a_key_onto_itself(tmp_path: Any) -> None:
    nodes = [
        {"name": "id", "type": "integer"},
        {"name": "parent", "type": "integer"},
        {"name": "label", "type": "string"},
    ]
    itself = table_spec(nodes, ["id"], name="nodes")
    spec = replace(
        table_spec(nodes, ["id"], name="nodes"),
        foreign_keys=(ForeignKey(("parent",), "nodes", ("id",), itself),),
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'nodes.sqlite'}")
    spec.table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            spec.table.insert(),
            [
                {"id": 1, "parent": None, "label": "root"},
                {"id": 2, "parent": 1, "label": "child"},
                {"id": 3, "parent": 2, "label": "grandchild"},
            ],
        )
    params = [("_expand", "parent"), ("_col", "label,parent.label"), ("_sort", "-id")]
    query = parse_row_query(spec, params, default_size=10, max_size=100)
    plan = build_select(spec, query, limit=None)
    with engine.connect() as connection:
        rows = [plan.output_row(row) for row in connection.execute(plan.select)]
    engine.dispose()
    assert plan.output_columns == ("label", "parent.label")
    assert rows == [("grandchild", "child"), ("child", "root"), ("root", None)]
