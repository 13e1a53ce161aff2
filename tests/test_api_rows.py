"""The rows API over HTTP on the flagship releases: whole bodies and exact CSV.

Every expectation is derived here from the released CSV files with the csv module (or is a small
body checked by reading those files), never from the code under test.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from api.db.rows import FACET_SIZE
from api.query import encode_cursor
from api.query.operators import OPERATORS
from tests.helpers import BASE_URL, DATASETS, FLAGSHIP
from tests.problem_body import problem_body

pytestmark = pytest.mark.anyio




VERSION = "1.2.0"
LATEST = "1.3.1"
PREFIX = f"/v1/datasets/{FLAGSHIP}/{VERSION}"
PROBLEM_JSON = "application/problem+json"
CSV_TYPE = "text/csv; charset=utf-8"
Row = dict[str, Any]


# --- expectations from the released files ------------------------------------------------------


@cache
def descriptor(version: str = VERSION) -> dict[str, Any]:
    """The release's own datapackage.json."""
    path = DATASETS / FLAGSHIP / version / "datapackage.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def resource_descriptor(name: str, version: str = VERSION) -> dict[str, Any]:
    """One resource of the release descriptor."""
    return next(r for r in descriptor(version)["resources"] if r["name"] == name)


def columns_of(name: str) -> list[str]:
    """Field names of a resource in schema order."""
    return [f["name"] for f in resource_descriptor(name)["schema"]["fields"]]


def primary_key(name: str) -> list[str]:
    """The primary key of a resource."""
    return list(resource_descriptor(name)["schema"]["primaryKey"])


def typed(field_type: str, text: str) -> Any:
    """A CSV cell as JSON gives it back: missing values are null, integers are numbers."""
    if text == "":
        return None
    if field_type in ("integer", "year"):
        return int(text)
    if field_type == "number":
        return float(text)
    return text


@cache
def _rows(name: str, version: str) -> tuple[tuple[tuple[str, Any], ...], ...]:
    schema = resource_descriptor(name, version)["schema"]
    types = {f["name"]: f["type"] for f in schema["fields"]}
    path = DATASETS / FLAGSHIP / version / resource_descriptor(name, version)["path"]
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(
            tuple((key, typed(types[key], text)) for key, text in raw.items())
            for raw in csv.DictReader(handle)
        )


def rows_of(name: str, version: str = VERSION) -> list[Row]:
    """Every row of a released CSV file, typed, in file order."""
    return [dict(row) for row in _rows(name, version)]


def ordered(rows: Sequence[Row], sort: Sequence[str], key: Sequence[str]) -> list[Row]:
    """Rows in the documented order: each sort column, missing values last, then the key."""
    names = [s.removeprefix("-") for s in sort]
    keys = list(sort) + [k for k in key if k not in names]
    result = list(rows)
    for item in reversed(keys):
        column, descending = item.removeprefix("-"), item.startswith("-")
        present = sorted(
            (r for r in result if r[column] is not None),
            key=lambda r: r[column],
            reverse=descending,
        )
        result = present + [r for r in result if r[column] is None]
    return result


def csv_text(rows: Sequence[Row], columns: Sequence[str], *, delimiter: str = ",") -> str:
    """The CSV the API writes: RFC 4180 quoting, CRLF line ends, missing values empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return buffer.getvalue()


def page_body(
    resource: str,
    rows: Sequence[Row],
    *,
    filters: Sequence[dict[str, Any]] = (),
    sort: Sequence[str] = (),
    columns: Sequence[str] | None = None,
    total: int | None = None,
    size: int = 100,
    count: bool = True,
) -> dict[str, Any]:
    """The whole JSON body of a last (or only) page."""
    names = list(columns) if columns is not None else columns_of(resource)
    named = {s.removeprefix("-") for s in sort}
    full_sort = list(sort) + [k for k in primary_key(resource) if k not in named]
    return {
        "package": FLAGSHIP,
        "version": VERSION,
        "resource": resource,
        "licenses": descriptor()["licenses"],
        "filters": list(filters),
        "sort": full_sort,
        "columns": names,
        "total": (len(rows) if total is None else total) if count else None,
        "total_is_exact": True if count else None,
        "size": size,
        "rows": [{c: row[c] for c in names} for row in rows[:size]],
        "next": None,
        "next_url": None,
    }


def exact(column: str, value: Any) -> dict[str, Any]:
    """A filter as the body echoes it."""
    return {"column": column, "op": "exact", "value": value}


def isnull(column: str) -> dict[str, Any]:
    """An `isnull=1` filter as the body echoes it."""
    return {"column": column, "op": "isnull", "value": True}


def url(resource: str, params: Sequence[tuple[str, str]] = (), suffix: str = "") -> str:
    """A pinned rows URL."""
    query = f"?{urlencode(params)}" if params else ""
    return f"{PREFIX}/{resource}{suffix}{query}"


# --- representative queries: whole JSON body and exact CSV text ---------------------------------

# A filter as sent and as read: (parameter, text, value); `column=v` is the `exact` operator.
Filter = tuple[str, str, Any]


@dataclass(frozen=True)
class Query:
    """A rows query on the flagship data: its filters and its sort."""

    resource: str
    filters: tuple[Filter, ...]
    sort: tuple[str, ...] = ()

    def params(self) -> list[tuple[str, str]]:
        sort = [("_sort", ",".join(self.sort))] if self.sort else []
        return [(param, text) for param, text, _ in self.filters] + sort

    def echoed(self) -> list[dict[str, Any]]:
        """The filters as the body echoes them."""
        return [
            {"column": column, "op": op or "exact", "value": value}
            for (column, _, op), value in ((p.partition("__"), v) for p, _, v in self.filters)
        ]

    def rows(self) -> list[Row]:
        """The rows the query selects, in order, computed from the CSV file."""
        chosen = rows_of(self.resource)
        for item in self.echoed():
            matches = PYTHON_OPERATORS[item["op"]]
            chosen = [r for r in chosen if matches(r[item["column"]], item["value"])]
        return ordered(chosen, self.sort, primary_key(self.resource))


QUERIES = {
    # National totals of the whole campaign: running tallies (scope cumulative_campaign) that
    # count every nationality and both sexes (nationality and sex missing).
    "suspects-detained-campaign-totals": Query(
        "figures",
        (
            ("metric", "suspects_detained", "suspects_detained"),
            ("scope", "cumulative_campaign", "cumulative_campaign"),
            ("nationality__isnull", "1", True),
            ("sex__isnull", "1", True),
        ),
        ("as_of",),
    ),
    # Every running tally of detentions, with its breakdowns by nationality and sex.
    "suspects-detained-cumulative": Query(
        "figures",
        (
            ("metric", "suspects_detained", "suspects_detained"),
            ("scope", "cumulative_campaign", "cumulative_campaign"),
        ),
        ("as_of",),
    ),
    "korean-deportation-events": Query("deportation_events", (("nationality", "KR", "KR"),)),
    "korean-deportation-figures": Query(
        "figures",
        (("metric", "foreigners_deported", "foreigners_deported"), ("nationality", "KR", "KR")),
        ("as_of", "-value"),
    ),
    "phnom-penh-links": Query("figure_provinces", (("province_code", "KH-12", "KH-12"),)),
    "deportations-with-women-since-2026": Query(
        "deportation_events",
        (
            ("event_date__gte", "2026-01-01", "2026-01-01"),
            ("women_deported__notnull", "1", True),
        ),
        ("-event_date",),
    ),
}


@pytest.mark.parametrize("name", list(QUERIES))
async def test_query_whole_json_body(client: httpx.AsyncClient, name: str) -> None:
    query = QUERIES[name]
    rows = query.rows()
    assert rows, "a representative query must select rows"
    response = await client.get(url(query.resource, query.params()))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-total-count"] == str(len(rows))
    expected = page_body(query.resource, rows, filters=query.echoed(), sort=query.sort)
    assert response.json() == expected


@pytest.mark.parametrize("name", list(QUERIES))
async def test_query_exact_csv_text(client: httpx.AsyncClient, name: str) -> None:
    query = QUERIES[name]
    response = await client.get(url(query.resource, query.params(), ".csv"))
    assert response.status_code == 200
    assert response.headers["content-type"] == CSV_TYPE
    assert "content-disposition" not in response.headers
    assert response.text == csv_text(query.rows(), columns_of(query.resource))


async def test_suspects_detained_campaign_totals_hard_coded(client: httpx.AsyncClient) -> None:
    """The headline series, checked by hand against figures.csv: as-of date, value, qualifier."""
    query = QUERIES["suspects-detained-campaign-totals"]
    response = await client.get(url("figures", query.params()))
    series = [(r["as_of"], r["value"], r["qualifier"]) for r in response.json()["rows"]]
    assert series == [
        ("2025-07-18", 2137, "exact"),
        ("2025-07-22", 3000, "approximately"),
        ("2025-07-22", 3075, "exact"),
        ("2025-08-15", 3000, "more_than"),
        ("2025-09-30", 2270, "exact"),
        *[("2025-10-14", 3455, q) for q in ("exact", "approximately", "exact", "approximately")],
        ("2025-10-14", 3455, "exact"),
        *[("2025-10-15", 3455, "exact")] * 3,
        *[("2025-10-18", 3455, "exact")] * 2,
        ("2025-11-06", 3455, "exact"),
        *[("2025-12-07", 4851, "exact")] * 2,
        *[("2025-12-18", 4983, "exact")] * 3,
        *[("2026-01-22", 5106, "exact")] * 5,
        ("2026-01-25", 5106, "exact"),
    ]


async def test_korean_deportation_events_hard_coded(client: httpx.AsyncClient) -> None:
    response = await client.get(url("deportation_events", [("nationality", "KR")]))
    events = [
        (r["event_id"], r["event_date"], r["persons_deported"], r["women_deported"])
        for r in response.json()["rows"]
    ]
    assert events == [
        ("dep_20251014_KR", "2025-10-14", 2, None),
        ("dep_20251017_KR", "2025-10-17", 64, 5),
        ("dep_20260123_KR", "2026-01-23", 73, None),
    ]


async def test_figures_of_a_province_through_the_link_table(client: httpx.AsyncClient) -> None:
    """Phnom Penh (KH-12): its links first, then the figures they name, by `figure_id__in`."""
    links = await client.get(url("figure_provinces", [("province_code", "KH-12")]))
    ids = [r["figure_id"] for r in links.json()["rows"]]
    expected_ids = sorted(
        r["figure_id"] for r in rows_of("figure_provinces") if r["province_code"] == "KH-12"
    )
    assert ids == expected_ids
    assert len(ids) == 43
    response = await client.get(url("figures", [("figure_id__in", ",".join(ids))]))
    chosen = [r for r in rows_of("figures") if r["figure_id"] in set(expected_ids)]
    rows = ordered(chosen, [], ["figure_id"])
    assert response.json() == page_body(
        "figures", rows, filters=[{"column": "figure_id", "op": "in", "value": ids}]
    )
    every_phnom_penh_figure_names_it = all("Phnom Penh" in r["provinces"] for r in rows)
    assert every_phnom_penh_figure_names_it


# --- every operator against the CSV ------------------------------------------------------------

# What each operator means, written independently of the code under test.
PYTHON_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "exact": lambda x, v: x == v,
    "not": lambda x, v: x != v,
    "gt": lambda x, v: x is not None and x > v,
    "gte": lambda x, v: x is not None and x >= v,
    "lt": lambda x, v: x is not None and x < v,
    "lte": lambda x, v: x is not None and x <= v,
    "between": lambda x, v: (
        x is not None and (v[0] is None or x >= v[0]) and (v[1] is None or x <= v[1])
    ),
    "in": lambda x, v: x in v,
    "notin": lambda x, v: x not in v,
    "contains": lambda x, v: x is not None and v in x,
    "icontains": lambda x, v: x is not None and v.lower() in x.lower(),
    "startswith": lambda x, v: x is not None and x.startswith(v),
    "endswith": lambda x, v: x is not None and x.endswith(v),
    "isnull": lambda x, v: (x is None) == v,
    "notnull": lambda x, v: (x is not None) == v,
}

# (resource, parameter, value as sent, value as read: the body echoes it and the CSV is matched)
OPERATOR_CASES: list[tuple[str, str, str, Any]] = [
    ("figures", "value__gt", "5000", 5000),
    ("figures", "value__gte", "5106", 5106),
    ("figures", "value__lt", "3", 3),
    ("figures", "value__lte", "2", 2),
    ("figures", "value__between", "100..200", [100, 200]),
    ("figures", "value__between", "10000..", [10000, None]),
    ("figures", "value__between", "..1", [None, 1]),
    ("figures", "value__in", "64,73", [64, 73]),
    ("figures", "value__notin", "[1,2,3]", [1, 2, 3]),
    ("figures", "value__exact", "3455", 3455),
    ("figures", "as_of__between", "2025-10-01..2025-10-31", ["2025-10-01", "2025-10-31"]),
    ("figures", "as_of__lt", "2025-07", "2025-07"),
    ("figures", "metric__not", "suspects_detained", "suspects_detained"),
    ("figures", "nationality__not", "KR", "KR"),
    ("figures", "nationality__in", "KR,JP", ["KR", "JP"]),
    ("figures", "nationality__in", '["KR","JP"]', ["KR", "JP"]),
    ("figures", "nationality__notin", "CN,VN", ["CN", "VN"]),
    ("figures", "qualifier__in", "more_than,at_least", ["more_than", "at_least"]),
    ("figures", "sex", "female", "female"),
    ("figures", "sex__notnull", "1", True),
    ("figures", "sex__notnull", "false", False),
    ("figures", "provinces__isnull", "0", False),
    ("figures", "notes__contains", "80%", "80%"),
    ("figures", "notes__contains", "as_of", "as_of"),
    ("figures", "notes__contains", "Nearly", "Nearly"),
    ("figures", "notes__icontains", "NEARLY", "NEARLY"),
    ("figures", "notes__icontains", "_", "_"),
    ("figures", "notes__icontains", "80%", "80%"),
    ("figures", "notes__startswith", "Source", "Source"),
    ("figures", "notes__endswith", "approximate", "approximate"),
    ("figures", "provinces__contains", "Phnom Penh|", "Phnom Penh|"),
    ("figures", "figure_id__startswith", "ap_", "ap_"),
    ("provinces", "alt_spellings__contains", "é", "é"),
    ("provinces", "alt_spellings__endswith", "Vêng", "Vêng"),
    ("provinces", "alt_spellings__icontains", "KRATIÉ", "KRATIÉ"),
    ("provinces", "name_en__icontains", "PREAH", "PREAH"),
    (
        "deportation_events",
        "event_date__between",
        "2025-10-01..2025-12-31",
        ["2025-10-01", "2025-12-31"],
    ),
    ("deportation_events", "event_date__gt", "2026-02-01", "2026-02-01"),
    ("deportation_events", "women_deported__isnull", "true", True),
    ("deportation_events", "persons_deported__in", "64,73", [64, 73]),
    ("deportation_events", "women_deported__not", "5", 5),
]


def test_every_operator_is_exercised_over_http() -> None:
    used = {param.partition("__")[2] or "exact" for _, param, _, _ in OPERATOR_CASES}
    assert used == set(PYTHON_OPERATORS) == set(OPERATORS)


@pytest.mark.parametrize(
    "resource,param,value,read",
    OPERATOR_CASES,
    ids=[f"{c[0]}-{c[1]}={c[2]}" for c in OPERATOR_CASES],
)
async def test_operator_selects_what_the_csv_says(
    client: httpx.AsyncClient, resource: str, param: str, value: str, read: Any
) -> None:
    column, _, op = param.partition("__")
    op = op or "exact"
    matches = PYTHON_OPERATORS[op]
    chosen = [r for r in rows_of(resource) if matches(r[column], read)]
    assert 0 < len(chosen) < len(rows_of(resource)), "a case must select some rows, not all"
    rows = ordered(chosen, [], primary_key(resource))
    response = await client.get(url(resource, [(param, value), ("_size", "1000")]))
    assert response.status_code == 200, response.text
    filters = [{"column": column, "op": op, "value": read}]
    assert response.json() == page_body(resource, rows, filters=filters, size=1000)


# --- paging ------------------------------------------------------------------------------------


async def _walk(
    client: httpx.AsyncClient, first: str, prefix: str = PREFIX
) -> tuple[list[Row], int]:
    """Follow `next_url` from `first` to the end; return the rows and the number of pages."""
    rows: list[Row] = []
    pages = 0
    target: str | None = first
    while target is not None:
        response = await client.get(target)
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        rows.extend(body["rows"])
        target = body["next_url"]
        if target is None:
            assert body["next"] is None
            assert 'rel="next"' not in response.headers["link"]
        else:
            assert target.startswith(f"{BASE_URL}{prefix}/")
            assert f'<{target}>; rel="next"' in response.headers["link"]
        assert pages <= 1000, "paging does not end"
    return rows, pages


SORTS = {
    "default": [],
    "as-of-descending": ["-as_of"],
    "metric-then-value-descending": ["metric", "-value"],
    "nullable-nationality": ["nationality"],
    "nullable-sex-descending": ["-sex"],
    "two-nullable-columns": ["period_start", "-notes"],
}


@pytest.mark.parametrize("sort", list(SORTS.values()), ids=list(SORTS))
async def test_paging_returns_every_row_once_in_unpaged_order(
    client: httpx.AsyncClient, sort: list[str]
) -> None:
    params = [("_size", "7")] + ([("_sort", ",".join(sort))] if sort else [])
    paged, pages = await _walk(client, url("figures", params))
    unpaged = await client.get(url("figures", [("_size", "1000"), *params[1:]]))
    expected = ordered(rows_of("figures"), sort, ["figure_id"])
    assert len(expected) == 433
    assert pages == math.ceil(433 / 7)
    assert [r["figure_id"] for r in paged] == [r["figure_id"] for r in expected]
    assert len({r["figure_id"] for r in paged}) == 433
    assert paged == unpaged.json()["rows"] == expected


async def test_paging_with_a_filter_and_the_sort_column_projected_out(
    client: httpx.AsyncClient,
) -> None:
    params = [
        ("metric", "suspects_detained"),
        ("_col", "figure_id"),
        ("_sort", "-value,as_of"),
        ("_size", "5"),
    ]
    paged, pages = await _walk(client, url("figures", params))
    chosen = [r for r in rows_of("figures") if r["metric"] == "suspects_detained"]
    expected = ordered(chosen, ["-value", "as_of"], ["figure_id"])
    assert pages == math.ceil(len(expected) / 5)
    assert paged == [{"figure_id": r["figure_id"]} for r in expected]


async def test_paging_from_latest_stays_on_the_pinned_release(client: httpx.AsyncClient) -> None:
    first = await client.get(f"/v1/datasets/{FLAGSHIP}/latest/metrics?_size=10")
    next_url = first.json()["next_url"]
    assert next_url.startswith(f"{BASE_URL}/v1/datasets/{FLAGSHIP}/{LATEST}/metrics?")
    paged, _ = await _walk(client, next_url, f"/v1/datasets/{FLAGSHIP}/{LATEST}")
    assert first.json()["rows"] + paged == ordered(rows_of("metrics", LATEST), [], ["code"])


# --- totals, facets, projections --------------------------------------------------------------


async def test_count_none_gives_a_null_total(client: httpx.AsyncClient) -> None:
    response = await client.get(url("figures", [("_count", "none"), ("_size", "2")]))
    body = response.json()
    first = ordered(rows_of("figures"), [], ["figure_id"])
    assert "x-total-count" not in response.headers
    next_url = f"{BASE_URL}{url('figures', [('_count', 'none'), ('_size', '2')])}"
    assert body.pop("next_url").startswith(f"{next_url}&_next=")
    assert body.pop("next") is not None
    expected = page_body("figures", first, size=2, count=False)
    del expected["next"], expected["next_url"]
    assert body == expected


def facet_counts(rows: Sequence[Row], column: str) -> list[dict[str, Any]]:
    """Value counts, most common first; ties by value with the missing value last."""
    counts = Counter(r[column] for r in rows)
    return [
        {"value": value, "count": count}
        for value, count in sorted(
            counts.items(), key=lambda item: (-item[1], item[0] is None, item[0] or "")
        )
    ]


async def test_facet_on_qualifier_counts_every_figure(client: httpx.AsyncClient) -> None:
    response = await client.get(url("figures", [("_facet", "qualifier"), ("_size", "1")]))
    body = response.json()
    figures = rows_of("figures")
    assert body.pop("next") is not None
    assert body.pop("next_url") is not None
    expected = page_body("figures", ordered(figures, [], ["figure_id"]), size=1, total=433)
    del expected["next"], expected["next_url"]
    expected["facets"] = {"qualifier": facet_counts(figures, "qualifier")}
    expected["facets_truncated"] = []
    expected["facets_timed_out"] = []
    assert body == expected
    assert expected["facets"]["qualifier"] == [
        {"value": "exact", "count": 353},
        {"value": "approximately", "count": 36},
        {"value": "more_than", "count": 34},
        {"value": "at_least", "count": 9},
        {"value": "fewer_than", "count": 1},
    ]


async def test_facet_with_more_values_than_shown_is_cut_and_named(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(url("figures", [("_facet", "figure_id,qualifier"), ("_size", "1")]))
    body = response.json()
    figures = rows_of("figures")
    assert body["facets"]["figure_id"] == facet_counts(figures, "figure_id")[:FACET_SIZE]
    assert body["facets"]["qualifier"] == facet_counts(figures, "qualifier")
    assert body["facets_truncated"] == ["figure_id"]


async def test_facets_follow_the_filters_and_group_missing_values(
    client: httpx.AsyncClient,
) -> None:
    params = [
        ("metric", "suspects_detained"),
        ("_facet", "nationality,scope"),
        ("_facet", "sex"),
        ("_col", "figure_id"),
        ("_size", "100"),
    ]
    response = await client.get(url("figures", params))
    chosen = [r for r in rows_of("figures") if r["metric"] == "suspects_detained"]
    assert response.json()["facets"] == {
        name: facet_counts(chosen, name) for name in ("nationality", "scope", "sex")
    }
    assert response.json()["facets"]["nationality"][0] == {"value": None, "count": 48}


async def test_facet_lists_every_value(client: httpx.AsyncClient) -> None:
    """figures has 41 metrics: the counts of a facet add up to the total, none is dropped."""
    response = await client.get(url("figures", [("_facet", "metric"), ("_size", "1")]))
    facet = response.json()["facets"]["metric"]
    assert facet == facet_counts(rows_of("figures"), "metric")
    assert sum(item["count"] for item in facet) == 433


PROJECTIONS = {
    "col-comma-and-repeated": (
        [("_col", "value,figure_id"), ("_col", "metric")],
        ["figure_id", "metric", "value"],
    ),
    "nocol": ([("_nocol", "notes,provinces"), ("_nocol", "report_id")], None),
    "col-then-nocol": (
        [("_col", "figure_id,notes,as_of"), ("_nocol", "notes")],
        ["figure_id", "as_of"],
    ),
}


@pytest.mark.parametrize("params,columns", list(PROJECTIONS.values()), ids=list(PROJECTIONS))
async def test_projection_json_and_csv(
    client: httpx.AsyncClient, params: list[tuple[str, str]], columns: list[str] | None
) -> None:
    if columns is None:
        dropped = {"notes", "provinces", "report_id"}
        columns = [c for c in columns_of("figures") if c not in dropped]
    rows = ordered(
        [r for r in rows_of("figures") if r["metric"] == "victims_rescued"], [], ["figure_id"]
    )
    query = [("metric", "victims_rescued"), *params]
    response = await client.get(url("figures", query))
    assert response.json() == page_body(
        "figures", rows, filters=[exact("metric", "victims_rescued")], columns=columns
    )
    as_csv = await client.get(url("figures", query, ".csv"))
    assert as_csv.text == csv_text(rows, columns)


# --- CSV and NDJSON ----------------------------------------------------------------------------


SUSPECTS = [("metric", "suspects_detained"), ("_sort", "-as_of")]


def suspects_rows() -> list[Row]:
    chosen = [r for r in rows_of("figures") if r["metric"] == "suspects_detained"]
    return ordered(chosen, ["-as_of"], ["figure_id"])


@pytest.mark.parametrize(
    "params,delimiter",
    [
        ([("_delimiter", ";")], ";"),
        ([("_delimiter", "\t")], "\t"),
        ([("_delimiter", "\\t")], "\t"),
        ([("_delimiter", "tab")], "\t"),
        ([("_delimiter", ",")], ","),
    ],
    ids=["semicolon", "tab-character", "tab-escape", "tab-word", "comma"],
)
async def test_csv_delimiter(
    client: httpx.AsyncClient, params: list[tuple[str, str]], delimiter: str
) -> None:
    response = await client.get(url("figures", SUSPECTS + params, ".csv"))
    assert response.status_code == 200
    assert response.text == csv_text(suspects_rows(), columns_of("figures"), delimiter=delimiter)


async def test_csv_bom_for_spreadsheets(client: httpx.AsyncClient) -> None:
    response = await client.get(url("figures", SUSPECTS + [("_bom", "1")], ".csv"))
    expected = csv_text(suspects_rows(), columns_of("figures"))
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert response.content == b"\xef\xbb\xbf" + expected.encode("utf-8")


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ([("_dl", "1")], "figures.csv"),
        (SUSPECTS + [("_dl", "1"), ("_bom", "1")], "figures-filtered-36a9f4d8.csv"),
    ],
)
async def test_csv_download_is_named_after_package_version_and_resource(
    client: httpx.AsyncClient, params: list[tuple[str, str]], name: str
) -> None:
    response = await client.get(url("figures", params, ".csv"))
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{FLAGSHIP}-{VERSION}-{name}"'
    )


@pytest.mark.parametrize("resource", [r["name"] for r in descriptor()["resources"]])
async def test_unfiltered_csv_is_the_released_file(
    client: httpx.AsyncClient, resource: str
) -> None:
    info = resource_descriptor(resource)
    response = await client.get(url(resource, suffix=".csv"))
    assert response.status_code == 200
    assert response.headers["content-type"] == CSV_TYPE
    assert f"sha256:{hashlib.sha256(response.content).hexdigest()}" == info["hash"]
    assert len(response.content) == info["bytes"]
    assert response.content == (DATASETS / FLAGSHIP / VERSION / info["path"]).read_bytes()


async def test_unfiltered_csv_of_an_older_release_is_its_file(client: httpx.AsyncClient) -> None:
    info = resource_descriptor("figures", "1.0.0")
    response = await client.get(f"/v1/datasets/{FLAGSHIP}/1.0.0/figures.csv")
    assert f"sha256:{hashlib.sha256(response.content).hexdigest()}" == info["hash"]


async def test_generated_csv_reads_back_as_the_released_rows(client: httpx.AsyncClient) -> None:
    """A query that selects everything writes the same table the released file holds.

    The file keeps research order; the API sorts by the primary key (the first column).
    """
    response = await client.get(url("figures", [("value__gte", "0")], ".csv"))
    released = DATASETS / FLAGSHIP / VERSION / "data" / "figures.csv"
    with released.open(encoding="utf-8", newline="") as handle:
        expected = list(csv.reader(handle))
    header, *rows = csv.reader(io.StringIO(response.text, newline=""))
    assert [header, *rows] == [expected[0], *sorted(expected[1:])]


async def test_csv_streams_every_matching_row_past_the_page_size(
    client: httpx.AsyncClient,
) -> None:
    """A download holds every matching row (433, past the page size of 100): no silent cap."""
    response = await client.get(url("figures", [("value__gte", "0")], ".csv"))
    assert response.text == csv_text(
        ordered(rows_of("figures"), [], ["figure_id"]), columns_of("figures")
    )


@pytest.mark.parametrize(
    ("suffix", "query", "errors"),
    [
        (".csv", "_size=5&value__gte=0", ["_size not-for-format"]),
        (".ndjson", "_facet=sex&_count=none", ["_facet not-for-format", "_count not-for-format"]),
        (".xlsx", "_size=5", ["_size not-for-format"]),
        (".json", "_bom=1&_delimiter=;", ["_bom not-for-format", "_delimiter not-for-format"]),
        (".ndjson", "_delimiter=;", ["_delimiter not-for-format"]),
    ],
    ids=["size-on-csv", "facet-and-count-on-ndjson", "size-on-xlsx", "csv-controls-on-json",
         "delimiter-on-ndjson"],
)
async def test_control_for_another_format_is_named_not_ignored(
    client: httpx.AsyncClient, suffix: str, query: str, errors: list[str]
) -> None:
    params = parse_qsl(query, keep_blank_values=True)
    response = await client.get(url("figures", params, suffix))
    assert_bad_query(response, f"{PREFIX}/figures{suffix}", errors)


async def test_dl_names_a_json_page_too(client: httpx.AsyncClient) -> None:
    response = await client.get(url("figures", [("_size", "1"), ("_dl", "1")], ".json"))
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{FLAGSHIP}-1.2.0-figures.json"'
    )


@pytest.mark.parametrize(
    "params",
    [[], [("metric", "suspects_detained")], [("qualifier__in", "more_than,at_least")]],
    ids=["everything", "one-metric", "two-qualifiers"],
)
async def test_ndjson_has_one_line_per_counted_row(
    client: httpx.AsyncClient, params: list[tuple[str, str]]
) -> None:
    page = await client.get(url("figures", params))
    response = await client.get(url("figures", params, ".ndjson"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = response.text.splitlines()
    assert len(lines) == page.json()["total"]
    assert response.text.endswith("\n")
    assert [json.loads(line) for line in lines[:100]] == page.json()["rows"]


async def test_json_suffix_is_the_json_page(client: httpx.AsyncClient) -> None:
    plain = await client.get(url("metrics", [("_size", "5")]))
    suffixed = await client.get(url("metrics", [("_size", "5")], ".json"))
    first = ordered(rows_of("metrics"), [], ["code"])[:5]
    assert suffixed.json()["rows"] == plain.json()["rows"] == first


@pytest.mark.parametrize(
    "accept,media_type",
    [
        ("text/csv", CSV_TYPE),
        ("application/x-ndjson", "application/x-ndjson"),
        ("application/json", "application/json"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/json"),
        ("application/json;q=0.5, text/csv", CSV_TYPE),
    ],
)
async def test_accept_header_chooses_the_format(
    client: httpx.AsyncClient, accept: str, media_type: str
) -> None:
    response = await client.get(url("provinces"), headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert "Accept" in response.headers["vary"]
    if media_type == CSV_TYPE:
        path = DATASETS / FLAGSHIP / VERSION / "data" / "provinces.csv"
        assert response.content == path.read_bytes()


# --- one row by primary key --------------------------------------------------------------------


def one_row_body(resource: str, row: Row) -> dict[str, Any]:
    return {"package": FLAGSHIP, "version": VERSION, "resource": resource, "row": row}


@pytest.mark.parametrize(
    "resource,key",
    [
        ("figures", "ap_cebu_20250719-02"),
        ("figures", "freshnews_20251018-02"),
        ("figure_provinces", "ap_mb_20250717-03,KH-12"),
        ("deportation_events", "dep_20251017_KR"),
        ("province_mentions", "KH-12,nation_40052693,operations"),
    ],
)
async def test_one_row_by_key(client: httpx.AsyncClient, resource: str, key: str) -> None:
    pk = primary_key(resource)
    values = key.split(",") if len(pk) > 1 else [key]
    expected = [r for r in rows_of(resource) if [str(r[k]) for k in pk] == values]
    assert len(expected) == 1
    response = await client.get(f"{PREFIX}/{resource}/{key}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.json() == one_row_body(resource, expected[0])


async def test_one_row_hard_coded(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PREFIX}/deportation_events/dep_20251017_KR")
    assert response.json() == one_row_body(
        "deportation_events",
        {
            "event_id": "dep_20251017_KR",
            "event_date": "2025-10-17",
            "nationality": "KR",
            "nationalities_listed": "KR",
            "persons_deported": 64,
            "qualifier": "exact",
            "women_deported": 5,
            "via": "Techo International Airport (charter)",
            "destination": "South Korea (Incheon, arrived 18 Oct)",
            "report_id": "freshnews_20251018",
            "notes": "Police had announced 59 the day before; Seoul had counted 61 still detained",
        },
    )


# --- bad queries -------------------------------------------------------------------------------


# (resource, query string, the (param, code) of every problem listed, in query order)
BAD_QUERIES: dict[str, tuple[str, str, list[str]]] = {
    "unknown-column": ("figures", "nope=1", ["nope unknown-column"]),
    "unknown-column-with-operator": ("figures", "nope__gt=1", ["nope__gt unknown-column"]),
    "unknown-operator": ("figures", "metric__like=x", ["metric__like unknown-operator"]),
    "operator-unfit-for-integer": (
        "figures",
        "value__contains=3",
        ["value__contains operator-not-for-type"],
    ),
    "operator-unfit-for-date": (
        "deportation_events",
        "event_date__startswith=2025",
        ["event_date__startswith operator-not-for-type"],
    ),
    "unparsable-integer": ("figures", "value=many", ["value invalid-value"]),
    "decimal-for-integer": (
        "deportation_events",
        "persons_deported__gt=1.5",
        ["persons_deported__gt invalid-value"],
    ),
    "unparsable-date": (
        "deportation_events",
        "event_date__gt=17 Oct 2025",
        ["event_date__gt invalid-value"],
    ),
    "impossible-date": (
        "deportation_events",
        "event_date=2025-02-30",
        ["event_date invalid-value"],
    ),
    "unparsable-range-end": ("figures", "value__between=1..lots", ["value__between invalid-value"]),
    "empty-range": ("figures", "value__between=10..1", ["value__between invalid-value"]),
    "not-in-enum": ("figures", "qualifier=roughly", ["qualifier not-in-enum"]),
    "not-in-enum-each-member": (
        "figures",
        "qualifier__in=exact,roughly,nearly",
        ["qualifier__in not-in-enum", "qualifier__in not-in-enum"],
    ),
    "bad-flag": ("figures", "sex__isnull=maybe", ["sex__isnull invalid-value"]),
    "empty-value": ("figures", "metric=", ["metric invalid-value"]),
    "bad-cursor": ("figures", "_next=not-a-cursor", ["_next invalid-cursor"]),
    "size-negative": ("figures", "_size=-1", ["_size invalid-size"]),
    "size-too-big": ("figures", "_size=1001", ["_size invalid-size"]),
    "size-not-a-number": ("figures", "_size=ten", ["_size invalid-size"]),
    "size-twice": ("figures", "_size=5&_size=6", ["_size duplicate-parameter"]),
    "unknown-control": ("figures", "_limit=5", ["_limit unknown-parameter"]),
    "sort-unknown-column": ("figures", "_sort=-nope", ["_sort unknown-column"]),
    "sort-twice": ("figures", "_sort=value,-value", ["_sort invalid-control"]),
    "col-unknown": ("figures", "_col=figure_id,nope", ["_col unknown-column"]),
    "nocol-everything": ("figures", "_col=notes&_nocol=notes", ["_nocol invalid-control"]),
    "facet-unknown": ("figures", "_facet=nope", ["_facet unknown-column"]),
    "count-mode": ("figures", "_count=estimate", ["_count invalid-control"]),
    # On a JSON page a CSV control is out of place, whatever its value.
    "delimiter": (
        "figures",
        "_delimiter=|",
        ["_delimiter not-for-format", "_delimiter invalid-control"],
    ),
    "bom": ("figures", "_bom=yes", ["_bom not-for-format", "_bom invalid-control"]),
    "integer-beyond-64-bits": ("figures", "value=99999999999999999999999", ["value invalid-value"]),
    "integer-below-64-bits": (
        "figures",
        "value__gt=-9223372036854775809",
        ["value__gt invalid-value"],
    ),
    "integer-list-beyond-64-bits": (
        "figures",
        "value__in=1,9223372036854775808",
        ["value__in invalid-value"],
    ),
    "nul-in-value": ("figures", "metric=a%00b", ["metric invalid-value"]),
    "nul-in-text-search": ("figures", "notes__icontains=%00", ["notes__icontains invalid-value"]),
    "cursor-integer-beyond-64-bits": (
        "figures",
        "_sort=value&_next=" + encode_cursor([10**30, "x"]),
        ["_next invalid-cursor"],
    ),
    "cursor-with-nul": ("figures", "_next=" + encode_cursor(["a\x00"]), ["_next invalid-cursor"]),
    "several-problems-in-one-request": (
        "figures",
        "nope=1&metric__like=x&value__contains=3&value=many&qualifier=roughly"
        "&_next=not-a-cursor&_size=-1&_limit=5&scope=cumulative_campaign",
        [
            "nope unknown-column",
            "metric__like unknown-operator",
            "value__contains operator-not-for-type",
            "value invalid-value",
            "qualifier not-in-enum",
            "_next invalid-cursor",
            "_size invalid-size",
            "_limit unknown-parameter",
        ],
    ),
}


def assert_bad_query(response: httpx.Response, path: str, errors: list[str]) -> None:
    """A 400 problem document listing exactly `errors` ("param code"), each with a message."""
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    body = problem_body(response)
    assert {k: body[k] for k in ("type", "title", "status", "instance")} == {
        "type": "/problems/bad-query",
        "title": "Bad query",
        "status": 400,
        "instance": path,
    }
    assert body["detail"].startswith(f"{len(errors)} problem(s) in the query: ")
    assert set(body) == {"type", "title", "status", "detail", "instance", "errors"}
    assert [f"{e['param']} {e['code']}" for e in body["errors"]] == errors
    assert all(set(e) == {"param", "code", "message"} and e["message"] for e in body["errors"])


@pytest.mark.parametrize("resource,query,errors", list(BAD_QUERIES.values()), ids=list(BAD_QUERIES))
async def test_bad_query_lists_every_problem(
    client: httpx.AsyncClient, resource: str, query: str, errors: list[str]
) -> None:
    params = parse_qsl(query, keep_blank_values=True)
    response = await client.get(url(resource, params))
    assert_bad_query(response, f"{PREFIX}/{resource}", errors)


async def test_one_row_takes_no_parameters(client: httpx.AsyncClient) -> None:
    path = f"{PREFIX}/figures/24h_20251104-01"
    response = await client.get(f"{path}?_size=abc&metric=x&_size=2")
    assert_bad_query(response, path, ["_size unknown-parameter", "metric unknown-parameter"])


async def test_key_with_nul_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PREFIX}/figures/a%00b")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_cursor_of_another_sort_is_refused(client: httpx.AsyncClient) -> None:
    first = await client.get(url("figures", [("_sort", "-value"), ("_size", "3")]))
    token = first.json()["next"]
    response = await client.get(url("figures", [("_next", token), ("_size", "3")]))
    assert_bad_query(response, f"{PREFIX}/figures", ["_next invalid-cursor"])


async def test_bad_query_whole_problem_body(client: httpx.AsyncClient) -> None:
    response = await client.get(url("figures", [("value", "many")]))
    message = "'many' is not a valid value for column 'value': expected a whole number."
    assert problem_body(response) == {
        "type": "/problems/bad-query",
        "title": "Bad query",
        "status": 400,
        "detail": f"1 problem(s) in the query: value: {message}",
        "instance": f"{PREFIX}/figures",
        "errors": [{"param": "value", "code": "invalid-value", "message": message}],
    }


@pytest.mark.parametrize(
    ("suffix", "more"), [(".csv", [("_bom", "1")]), (".ndjson", [])], ids=["csv", "ndjson"]
)
async def test_streamed_format_with_a_bad_query_fails_before_any_byte(
    client: httpx.AsyncClient, suffix: str, more: list[tuple[str, str]]
) -> None:
    response = await client.get(url("figures", [("value", "many"), *more], suffix))
    assert_bad_query(response, f"{PREFIX}/figures{suffix}", ["value invalid-value"])
    assert not response.content.startswith(b"\xef\xbb\xbf")


async def test_csv_by_accept_with_a_bad_query_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(url("figures", [("value", "many")]), headers={"Accept": "text/csv"})
    assert_bad_query(response, f"{PREFIX}/figures", ["value invalid-value"])
    sized = await client.get(url("figures", [("_size", "5")]), headers={"Accept": "text/csv"})
    assert_bad_query(sized, f"{PREFIX}/figures", ["_size not-for-format"])
