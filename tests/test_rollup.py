"""Counts and facets from the rollup the loader stores beside a large table (`api.ingest.rollup`).

A table of 60,000 rows whose indexed columns (a date, two `enum` codes) take few combinations:
every total and facet the API gives from the rollup is checked against the released CSV, read
here in Python, on both backends.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.config import Settings
from api.db.engine import reader_engine
from api.db.registry import Release, Resource, table_of
from api.db.releases import Catalog
from api.db.sqltypes import ROLLUP_COUNT, rollup_table_name
from api.ingest.rollup import ROLLUP_MIN_FOLD
from api.model import TableSpec
from api.query import RowQuery, parse_row_query
from api.query.build import build_count, build_facet, counted_by_rollup
from tests.builders import field, write_release
from tests.helpers import BASE_URL, MakeDatabase, app_client, load_releases

pytestmark = pytest.mark.anyio

ROWS = 60_000
PROVINCES = [f"KH-{n}" for n in range(1, 26)]
CATEGORIES = ["detained", "deported", "rescued", "charged", "released"]
FIRST_DAY = date(2025, 6, 1)
PAGE = "/v1/datasets/counted/1.0.0/cases.json"
SCATTERED_PAGE = "/v1/datasets/scattered/1.0.0/cases.json"


def _rows() -> list[dict[str, str]]:
    generator = random.Random(20261204)
    return [
        {
            "id": str(n),
            "reported_on": (FIRST_DAY + timedelta(days=generator.randrange(60))).isoformat(),
            "province": generator.choice(PROVINCES),
            "category": generator.choice(CATEGORIES),
            "people": str(generator.randrange(5000)),
        }
        for n in range(1, ROWS + 1)
    ]


ROW_DATA = _rows()


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _schema() -> dict[str, Any]:
    return {
        "fields": [
            field("id", "integer", constraints={"required": True}),
            field("reported_on", "date", constraints={"required": True}),
            field("province", constraints={"required": True, "enum": PROVINCES}),
            field("category", constraints={"enum": CATEGORIES}),
            field("people", "integer"),
        ],
        "primaryKey": ["id"],
    }


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("counted")
    write_release(root, "counted", "1.0.0", {"cases": (_schema(), _csv(ROW_DATA))})
    # The same table with a date over many years: its combinations do not fold the rows.
    scattered = [
        {**row, "reported_on": (FIRST_DAY + timedelta(days=int(row["id"]) % 9000)).isoformat()}
        for row in ROW_DATA
    ]
    write_release(root, "scattered", "1.0.0", {"cases": (_schema(), _csv(scattered))})
    # The same rows with the date as the only indexed column: a rollup of one column.
    daily = _schema()
    daily["fields"] = [
        f if f["name"] == "id" else {**f, "constraints": {}} for f in daily["fields"]
    ]
    write_release(root, "daily", "1.0.0", {"cases": (daily, _csv(ROW_DATA))})
    return root


@pytest.fixture(scope="module")
def counted_url(backend: str, make_database: MakeDatabase, datasets: Path) -> str:
    url = make_database(backend)
    load_releases(url, datasets)
    return url


@pytest.fixture
async def client(counted_url: str, datasets: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=counted_url, base_url=BASE_URL, datasets_dir=datasets)
    async with app_client(settings) as http:
        yield http


def test_the_loader_stores_counts_only_where_they_fold_the_rows(counted_url: str) -> None:
    """The rollup of `counted` holds every row once; `scattered` has none (too many dates)."""
    resources = table_of(Resource)
    releases = table_of(Release)
    engine = sa.create_engine(counted_url)
    try:
        with engine.connect() as connection:
            tables = dict(
                connection.execute(
                    sa.select(releases.c.package, resources.c.table_name).join(
                        releases, releases.c.id == resources.c.release_id
                    )
                ).all()
            )
            stored = set(sa.inspect(connection).get_table_names())
            quoted = connection.dialect.identifier_preparer.quote(
                rollup_table_name(tables["counted"])
            )
            groups, total = connection.execute(
                sa.text(f"SELECT count(*), sum({ROLLUP_COUNT}) FROM {quoted}")
            ).one()
    finally:
        engine.dispose()
    assert rollup_table_name(tables["counted"]) in stored
    assert rollup_table_name(tables["scattered"]) not in stored
    combinations = Counter(
        (row["reported_on"], row["province"], row["category"]) for row in ROW_DATA
    )
    assert (groups, total) == (len(combinations), ROWS)
    assert groups * ROLLUP_MIN_FOLD <= ROWS


TESTS: dict[str, Callable[[str, Any], bool]] = {
    "exact": lambda cell, value: cell == value,
    "not": lambda cell, value: cell != value,
    "in": lambda cell, value: cell in value,
    "notin": lambda cell, value: cell not in value,
    "gte": lambda cell, value: cell >= value,
    "lt": lambda cell, value: cell < value,
    "between": lambda cell, value: value[0] <= cell <= value[1],
    "startswith": lambda cell, value: cell.startswith(value),
}
"""The oracle: what each operator means for a released cell, compared as CSV text."""


def _passes(row: dict[str, str], filters: list[tuple[str, str, Any]]) -> bool:
    return all(TESTS[op](row[column], value) for column, op, value in filters)


def _param(column: str, op: str, value: Any) -> tuple[str, str]:
    key = column if op == "exact" else f"{column}__{op}"
    if op in ("in", "notin"):
        return key, ",".join(value)
    if op == "between":
        return key, f"{value[0]}..{value[1]}"
    return key, value


def _random_filters(generator: random.Random) -> list[tuple[str, str, Any]]:
    """One to three filters on the rollup's columns, each with one of the operators above."""
    day = lambda: (FIRST_DAY + timedelta(days=generator.randrange(60))).isoformat()  # noqa: E731
    choices: dict[str, Callable[[], tuple[str, Any]]] = {
        "reported_on": lambda: generator.choice(
            [("between", tuple(sorted((day(), day())))), ("gte", day()), ("lt", day())]
        ),
        "province": lambda: generator.choice(
            [
                ("exact", generator.choice(PROVINCES)),
                ("in", tuple(generator.sample(PROVINCES, 3))),
                ("startswith", "KH-1"),
                ("not", generator.choice(PROVINCES)),
            ]
        ),
        "category": lambda: generator.choice(
            [
                ("exact", generator.choice(CATEGORIES)),
                ("notin", tuple(generator.sample(CATEGORIES, 2))),
            ]
        ),
    }
    columns = generator.sample(sorted(choices), generator.randint(1, 3))
    return [(column, *choices[column]()) for column in columns]


CASES = [_random_filters(random.Random(seed)) for seed in range(24)]


@pytest.mark.parametrize("filters", CASES, ids=lambda f: "&".join("=".join(_param(*x)) for x in f))
async def test_totals_and_facets_from_the_rollup_match_the_released_rows(
    client: httpx.AsyncClient, filters: list[tuple[str, str, Any]]
) -> None:
    """Exact totals, and facets counted and ordered as the rows give them, for any filters."""
    kept = [row for row in ROW_DATA if _passes(row, filters)]
    params = [_param(*f) for f in filters] + [("_size", "3"), ("_facet", "province")]
    params.append(("_facet", "category"))
    response = await client.get(PAGE, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["total_is_exact"]) == (len(kept), True)
    for column in ("province", "category"):
        counts = Counter(row[column] for row in kept)
        expected = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        assert [(f["value"], f["count"]) for f in body["facets"][column]] == expected


async def test_a_total_past_the_count_budget_is_exact_from_the_rollup(
    client: httpx.AsyncClient,
) -> None:
    """The default count stops at a cap on the table; the rollup's total needs no cap."""
    wide = await client.get(PAGE, params={"reported_on__gte": "2025-06-01", "_size": "1"})
    assert (wide.json()["total"], wide.json()["total_is_exact"]) == (ROWS, True)
    capped = await client.get(SCATTERED_PAGE, params={"people__gte": "0", "_size": "1"})
    assert capped.status_code == 200
    assert capped.json()["total_is_exact"] is True  # 60,000 is under the default cap


def _parsed(spec: TableSpec, params: list[tuple[str, str]]) -> RowQuery:
    return parse_row_query(spec, params, default_size=10, max_size=100)


def test_only_filters_on_the_rollup_columns_are_counted_from_it(counted_url: str) -> None:
    """A filter on another column, or a facet of one, reads the table itself."""
    engine = reader_engine(counted_url)
    try:
        spec = Catalog(engine).table_spec("counted", "1.0.0", "cases")
        assert spec.rollup is not None
        assert spec.rollup.columns == {"reported_on", "province", "category"}
        covered = _parsed(spec, [("province", "KH-3"), ("reported_on__lt", "2025-07-01")])
        uncovered = _parsed(spec, [("province", "KH-3"), ("people__gt", "10")])
        rollup_name = spec.rollup.table.name
        assert counted_by_rollup(spec, covered)
        assert rollup_name in str(build_count(spec, covered))
        assert rollup_name in str(build_facet(spec, covered, "category"))
        assert not counted_by_rollup(spec, uncovered)
        assert rollup_name not in str(build_count(spec, uncovered))
        assert rollup_name not in str(build_facet(spec, covered, "people"))
    finally:
        engine.dispose()


def _oracle_order(rows: list[dict[str, str]], sort: str) -> list[int]:
    """The ids of `rows` in the order `_sort=sort` gives: each key in turn, ties by id."""
    typed = {"id": int, "people": int}
    ordered = sorted(rows, key=lambda row: int(row["id"]))
    keys = [key for key in sort.split(",") if key.lstrip("-") != "id"]
    if sort.lstrip("-") == "id":
        ordered.sort(key=lambda row: int(row["id"]), reverse=sort.startswith("-"))
    for key in reversed(keys):
        name = key.lstrip("-")
        cast = typed.get(name, str)
        ordered.sort(key=lambda row: cast(row[name]), reverse=key.startswith("-"))  # noqa: B023
    return [int(row["id"]) for row in ordered]


SORTS = ["reported_on", "-reported_on", "people", "-people", "id", "-id", "province,-people"]
PAGE_CASES = [
    (filters, random.Random(seed).choice(SORTS), random.Random(seed).choice([5, 40, 300]))
    for seed, filters in enumerate(CASES)
]


@pytest.mark.parametrize(
    ("filters", "sort", "size"),
    PAGE_CASES,
    ids=[f"{s}-{n}-" + "&".join("=".join(_param(*x)) for x in f) for f, s, n in PAGE_CASES],
)
async def test_pages_read_the_way_the_counts_choose_give_the_released_rows_in_order(
    client: httpx.AsyncClient, filters: list[tuple[str, str, Any]], sort: str, size: int
) -> None:
    """Whichever index or scan reads a page, its rows and the next page's are the right ones."""
    expected = _oracle_order([row for row in ROW_DATA if _passes(row, filters)], sort)
    params = [_param(*f) for f in filters] + [("_sort", sort), ("_size", str(size))]
    first = await client.get(PAGE, params=params)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [row["id"] for row in body["rows"]] == expected[:size]
    if body["next_url"] is None:
        assert len(expected) <= size
        return
    second = await client.get(body["next_url"])
    assert [row["id"] for row in second.json()["rows"]] == expected[size : 2 * size]


def _page_statements(engine: sa.Engine) -> list[str]:
    found: list[str] = []
    sa.event.listen(
        engine,
        "before_cursor_execute",
        lambda *args: found.append(str(args[2])) if re.search(r"FROM \"?d_", args[2]) else None,
    )
    return found


@pytest.mark.parametrize(
    ("params", "plain", "unindexed"),
    [
        # One day of sixty: the date index reads a sixtieth of the table, then a sort.
        (
            {"category": "charged", "reported_on": "2025-06-10", "_sort": "people"},
            ["reported_on"],
            ["category", "people"],
        ),
        # Every date, by -id: the table read backwards by rowid stops after the page.
        (
            {"category": "charged", "reported_on__gte": "2025-06-01", "_sort": "-id"},
            ["id"],
            ["category", "reported_on"],
        ),
        # A province in a week, by date: the (province, reported_on) index walked in order.
        (
            {"province": "KH-3", "reported_on__between": "2025-06-01..2025-06-07"},
            ["province", "reported_on"],
            [],
        ),
    ],
    ids=["narrow-date", "rowid-order", "declared-index"],
)
async def test_sqlite_reads_a_page_by_the_index_the_counts_choose(
    backend: str,
    counted_url: str,
    datasets: Path,
    params: dict[str, str],
    plain: list[str],
    unindexed: list[str],
) -> None:
    """Only the chosen index's columns are left to SQLite's index use; PostgreSQL plans alone."""
    settings = Settings(database_url=counted_url, base_url=BASE_URL, datasets_dir=datasets)
    async with app_client(settings) as http:
        engine: sa.Engine = http._transport.app.state.engine  # type: ignore[attr-defined]
        statements = _page_statements(engine)
        response = await http.get(PAGE, params={**params, "_size": "10", "_count": "none"})
    assert response.status_code == 200, response.text
    (page,) = [sql for sql in statements if "LIMIT" in sql]
    for name in plain:
        assert re.search(rf"(?<!\+)\"?d_\w+\"?\.\"?{name}\b", page), page
    for name in unindexed:
        marked = re.search(rf"\+\"?d_\w+\"?\.\"?{name}\b", page)
        assert bool(marked) == (backend == "sqlite"), page


@pytest.mark.parametrize("sort", ["-people", "reported_on", "-id"])
async def test_an_export_read_the_way_the_counts_choose_holds_every_matching_row_in_order(
    client: httpx.AsyncClient, sort: str
) -> None:
    """A filtered CSV export gives the released rows that match, in the order asked for."""
    filters = [("category", "exact", "charged"), ("reported_on", "gte", "2025-07-01")]
    expected = _oracle_order([row for row in ROW_DATA if _passes(row, filters)], sort)
    params = [_param(*f) for f in filters] + [("_sort", sort)]
    response = await client.get(PAGE.replace(".json", ".csv"), params=params)
    assert response.status_code == 200, response.text
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(row["id"]) for row in exported] == expected


@pytest.mark.parametrize(
    "filters",
    [
        [("reported_on", "between", ("2025-06-05", "2025-07-01"))],
        [("reported_on", "lt", "2025-06-02")],
        [("reported_on", "gte", "2025-07-30"), ("province", "exact", "KH-4")],
    ],
    ids=["between", "lt", "with-another-column"],
)
async def test_a_rollup_of_one_column_counts_as_the_rows_do(
    client: httpx.AsyncClient, counted_url: str, filters: list[tuple[str, str, Any]]
) -> None:
    """With the date alone indexed, date filters count from the rollup, others from the rows."""
    engine = reader_engine(counted_url)
    try:
        spec = Catalog(engine).table_spec("daily", "1.0.0", "cases")
    finally:
        engine.dispose()
    assert spec.rollup is not None and spec.rollup.columns == {"reported_on"}
    params = [_param(*f) for f in filters] + [("_size", "1"), ("_facet", "reported_on")]
    response = await client.get(PAGE.replace("counted", "daily"), params=params)
    assert response.status_code == 200, response.text
    kept = [row for row in ROW_DATA if _passes(row, filters)]
    assert response.json()["total"] == len(kept)
    counts = Counter(row["reported_on"] for row in kept)
    expected = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    facet = response.json()["facets"]["reported_on"]
    assert [(f["value"], f["count"]) for f in facet] == expected


async def test_a_time_limit_that_fires_while_a_chosen_page_is_read_is_a_503(
    backend: str, client: httpx.AsyncClient, counted_url: str, datasets: Path
) -> None:
    """With its counts and its route already known, the page read alone passes the limit."""
    if backend != "sqlite":
        pytest.skip("the stored counts choose a page's route on SQLite only")
    params = {"category": "charged", "reported_on__gte": "2025-06-01", "_sort": "-people"}
    params["_size"] = "300"
    assert (await client.get(PAGE, params=params)).status_code == 200
    settings = Settings(
        database_url=counted_url,
        base_url=BASE_URL,
        datasets_dir=datasets,
        query_timeout_seconds=1e-9,
    )
    async with app_client(settings) as http:
        engine: sa.Engine = http._transport.app.state.engine  # type: ignore[attr-defined]
        statements = _page_statements(engine)
        slow = await http.get(PAGE, params=params)
    assert slow.status_code == 503
    assert slow.headers["content-type"] == "application/problem+json"
    assert slow.json()["type"].endswith("/problems/query-timeout")
    # Only the page select ran: the counts and the route came from what the first request left.
    assert statements and all("LIMIT" in sql for sql in statements)
    assert re.search(r"\+\"?d_\w+\"?\.\"?category\b", statements[0])
    assert (await client.get(PAGE, params=params)).status_code == 200
