"""Keyset paging on real databases: every row exactly once, in the order of one unpaged query."""

from __future__ import annotations

import functools
import os
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from api.db.sqltypes import build_table
from api.model import TableSpec
from api.query import SortKey, build_count, build_select, parse_row_query
from tests.helpers import PG_ENV, PG_SKIP, table_spec

FIELDS: list[dict[str, Any]] = [
    {"name": "region", "type": "string"},
    {"name": "seq", "type": "integer"},
    {"name": "grp", "type": "integer"},
    {"name": "name", "type": "string"},
    {"name": "day", "type": "date"},
    {"name": "score", "type": "number"},
    {"name": "flag", "type": "boolean"},
]
PRIMARY_KEY = ["region", "seq"]
COLUMNS = [f["name"] for f in FIELDS]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]


def _maybe(rng: random.Random, value: Any, missing: float) -> Any:
    return None if rng.random() < missing else value


def _rows() -> list[dict[str, Any]]:
    """About 500 rows with many duplicate sort values and missing values in every column."""
    rng = random.Random(20250701)
    rows = []
    for region in ("kh", "th", "vn"):
        for seq in range(1, 168):
            rows.append(
                {
                    "region": region,
                    "seq": seq,
                    "grp": _maybe(rng, rng.randint(0, 4), 0.2),
                    "name": _maybe(rng, rng.choice(WORDS), 0.15),
                    "day": _maybe(rng, date(2025, 7, 1) + timedelta(days=rng.randint(0, 9)), 0.1),
                    "score": _maybe(rng, rng.choice([0.5, 1.0, 1.5, 2.0]), 0.3),
                    "flag": _maybe(rng, rng.random() < 0.5, 0.25),
                }
            )
    return rows


ROWS = _rows()


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[sa.Engine, TableSpec]]:
    """The ROWS table in a SQLite file, or in a throw-away schema on PostgreSQL."""
    schema = None
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("paging") / "paging.sqlite"
        engine = sa.create_engine(f"sqlite:///{path}")
    else:
        url = os.environ.get(PG_ENV)
        if not url:
            pytest.skip(PG_SKIP)
        engine = sa.create_engine(url)
        schema = f"test_paging_{uuid.uuid4().hex[:12]}"
        with engine.begin() as connection:
            connection.execute(sa.schema.CreateSchema(schema))
    table = build_table(sa.MetaData(schema=schema), "events", FIELDS, PRIMARY_KEY)
    spec = table_spec(FIELDS, PRIMARY_KEY, table=table, row_count=len(ROWS))
    try:
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(sa.insert(table), ROWS)
        yield engine, spec
    finally:
        if schema is not None:
            with engine.begin() as connection:
                connection.execute(sa.schema.DropSchema(schema, cascade=True))
        engine.dispose()


def _query(spec: TableSpec, params: Sequence[tuple[str, str]]) -> Any:
    return parse_row_query(spec, params, default_size=100, max_size=1000)


def fetch_unpaged(engine: sa.Engine, spec: TableSpec, params: Sequence[tuple[str, str]]) -> list:
    plan = build_select(spec, _query(spec, params), limit=None)
    with engine.connect() as connection:
        return [plan.output_row(row) for row in connection.execute(plan.select)]


def fetch_paged(
    engine: sa.Engine, spec: TableSpec, params: Sequence[tuple[str, str]], size: int
) -> tuple[list[tuple[Any, ...]], int]:
    """Follow `_next` from the first page to the last; return the rows and the page count."""
    rows: list[tuple[Any, ...]] = []
    token: str | None = None
    for pages in range(1, len(ROWS) + 2):
        cursor = [("_next", token)] if token else []
        query = _query(spec, [*params, ("_size", str(size)), *cursor])
        plan = build_select(spec, query, limit=query.size + 1)
        with engine.connect() as connection:
            fetched = connection.execute(plan.select).all()
        page, token = plan.page(fetched, query.size)
        rows.extend(page)
        if token is None:
            return rows, pages
    raise AssertionError("paging did not come to an end")


def _compare(a: Any, b: Any, descending: bool) -> int:
    if a is None or b is None:  # missing values last, whatever the direction
        return (a is None) - (b is None)
    order = (a > b) - (a < b)
    return -order if descending else order


def reference_order(rows: list[dict[str, Any]], sort: Sequence[SortKey]) -> list[tuple[str, int]]:
    """The primary keys of `rows` in the order the sort promises, worked out in Python."""

    def compare(left: dict[str, Any], right: dict[str, Any]) -> int:
        for key in sort:
            found = _compare(left[key.column], right[key.column], key.descending)
            if found:
                return found
        return 0

    ordered = sorted(rows, key=functools.cmp_to_key(compare))
    return [(row["region"], row["seq"]) for row in ordered]


Predicate = Callable[[dict[str, Any]], bool]
SORTS: list[tuple[list[tuple[str, str]], Predicate | None]] = [
    ([], None),
    ([("_sort", "grp")], None),
    ([("_sort", "-grp")], None),
    ([("_sort", "-day,name")], None),
    ([("_sort", "score,-grp")], None),
    ([("_sort", "-name"), ("_sort", "-flag")], None),
    ([("_sort", "flag,day,-score")], None),
    ([("_sort", "-seq")], None),
    ([("_sort", "-region,-seq")], None),
    ([("_sort", "-score"), ("grp__notnull", "1")], lambda r: r["grp"] is not None),
    ([("_sort", "name,-day"), ("grp__notin", "0,1")], lambda r: r["grp"] not in (0, 1)),
    ([("_sort", "-day"), ("name__icontains", "HA")], lambda r: "ha" in (r["name"] or "")),
]


@pytest.mark.parametrize("size", [7, 64])
@pytest.mark.parametrize(("params", "keep"), SORTS)
def test_paging_returns_every_row_once_in_order(
    loaded: tuple[sa.Engine, TableSpec],
    params: list[tuple[str, str]],
    keep: Predicate | None,
    size: int,
) -> None:
    engine, spec = loaded
    expected_rows = [row for row in ROWS if keep is None or keep(row)]
    unpaged = fetch_unpaged(engine, spec, params)
    paged, pages = fetch_paged(engine, spec, params, size)
    assert paged == unpaged
    assert len(paged) == len(expected_rows)
    assert pages == max(1, -(-len(expected_rows) // size))
    keys = [(row[0], row[1]) for row in paged]
    assert len(set(keys)) == len(keys)
    assert keys == reference_order(expected_rows, _query(spec, params).sort)
    with engine.connect() as connection:
        assert connection.execute(build_count(spec, _query(spec, params))).scalar_one() == len(
            expected_rows
        )


PROJECTIONS: list[list[tuple[str, str]]] = [
    [("_sort", "-grp,name"), ("_col", "seq")],
    [("_sort", "day,-score"), ("_col", "name,flag")],
    [("_sort", "-flag"), ("_nocol", "flag,region")],
]


@pytest.mark.parametrize("params", PROJECTIONS)
def test_paging_with_the_sort_columns_projected_away(
    loaded: tuple[sa.Engine, TableSpec], params: list[tuple[str, str]]
) -> None:
    engine, spec = loaded
    full = [p for p in params if p[0] == "_sort"]
    projected = [c for c in COLUMNS if c in _query(spec, params).columns]
    positions = [COLUMNS.index(c) for c in projected]
    expected = [tuple(row[i] for i in positions) for row in fetch_unpaged(engine, spec, full)]
    paged, _ = fetch_paged(engine, spec, params, 9)
    assert paged == expected
    assert paged == fetch_unpaged(engine, spec, params)


def test_a_single_row_page_walks_the_whole_table(loaded: tuple[sa.Engine, TableSpec]) -> None:
    engine, spec = loaded
    params = [("_sort", "-grp,score"), ("day__between", "2025-07-03..2025-07-05")]
    paged, pages = fetch_paged(engine, spec, params, 1)
    assert paged == fetch_unpaged(engine, spec, params)
    assert pages == len(paged) > 0
