"""SQL built from rows queries: compiled text and bound parameters, then results on databases."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import frictionless
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from api.db.engine import reader_engine
from api.db.sqltypes import build_table
from api.model import TableSpec
from api.query import (
    build_count,
    build_facet,
    build_row,
    build_select,
    encode_cursor,
    parse_key,
    parse_row_query,
)
from api.storage import stored_value
from tests.helpers import PG_ENV, PG_SKIP, table_spec

FIELDS: list[dict[str, Any]] = [
    {"name": "id", "type": "integer"},
    {"name": "name", "type": "string"},
    {"name": "n", "type": "integer"},
    {"name": "day", "type": "date"},
    {"name": "score", "type": "number"},
    {"name": "flag", "type": "boolean"},
]


def make_spec(metadata: sa.MetaData, name: str = "t") -> TableSpec:
    return table_spec(FIELDS, ["id"], table=build_table(metadata, name, FIELDS, ["id"]))


SPEC = make_spec(sa.MetaData())


def query(params: list[tuple[str, str]], spec: TableSpec = SPEC) -> Any:
    return parse_row_query(spec, params, default_size=100, max_size=1000)


def compiled(select: sa.Select[Any], dialect: Dialect) -> tuple[str, dict[str, Any]]:
    done = select.compile(dialect=dialect)
    return " ".join(str(done).split()), dict(done.params)


ORDER = "ORDER BY t.id ASC"
# params -> (SQLite SQL, its parameters, PostgreSQL SQL, its parameters)
SQL_CASES: list[tuple[list[tuple[str, str]], str, dict[str, Any], str, dict[str, Any]]] = [
    (
        [],
        f"SELECT t.id, t.name, t.n, t.day, t.score, t.flag FROM t {ORDER}",
        {},
        f"SELECT t.id, t.name, t.n, t.day, t.score, t.flag FROM t {ORDER}",
        {},
    ),
    (
        [("name", "x")],
        f"SELECT t.id FROM t WHERE t.name = ? {ORDER}",
        {"name_1": "x"},
        f"SELECT t.id FROM t WHERE t.name = %(name_1)s::VARCHAR {ORDER}",
        {"name_1": "x"},
    ),
    (
        [("name__not", "x")],
        f"SELECT t.id FROM t WHERE t.name IS NOT ? {ORDER}",
        {"name_1": "x"},
        f"SELECT t.id FROM t WHERE t.name IS DISTINCT FROM %(name_1)s::VARCHAR {ORDER}",
        {"name_1": "x"},
    ),
    (
        [("n__gt", "1"), ("n__lte", "9")],
        f"SELECT t.id FROM t WHERE t.n > ? AND t.n <= ? {ORDER}",
        {"n_1": 1, "n_2": 9},
        f"SELECT t.id FROM t WHERE t.n > %(n_1)s::BIGINT AND t.n <= %(n_2)s::BIGINT {ORDER}",
        {"n_1": 1, "n_2": 9},
    ),
    (
        [("n__gte", "1"), ("n__lt", "9")],
        f"SELECT t.id FROM t WHERE t.n >= ? AND t.n < ? {ORDER}",
        {"n_1": 1, "n_2": 9},
        f"SELECT t.id FROM t WHERE t.n >= %(n_1)s::BIGINT AND t.n < %(n_2)s::BIGINT {ORDER}",
        {"n_1": 1, "n_2": 9},
    ),
    (
        [("day__between", "2025-07-01..2025-07-31")],
        f"SELECT t.id FROM t WHERE t.day BETWEEN ? AND ? {ORDER}",
        {"day_1": date(2025, 7, 1), "day_2": date(2025, 7, 31)},
        f"SELECT t.id FROM t WHERE t.day BETWEEN %(day_1)s::DATE AND %(day_2)s::DATE {ORDER}",
        {"day_1": date(2025, 7, 1), "day_2": date(2025, 7, 31)},
    ),
    (
        [("day__between", "2025-07-01..")],
        f"SELECT t.id FROM t WHERE t.day >= ? {ORDER}",
        {"day_1": date(2025, 7, 1)},
        f"SELECT t.id FROM t WHERE t.day >= %(day_1)s::DATE {ORDER}",
        {"day_1": date(2025, 7, 1)},
    ),
    (
        [("day__between", "..2025-07-31")],
        f"SELECT t.id FROM t WHERE t.day <= ? {ORDER}",
        {"day_1": date(2025, 7, 31)},
        f"SELECT t.id FROM t WHERE t.day <= %(day_1)s::DATE {ORDER}",
        {"day_1": date(2025, 7, 31)},
    ),
    (
        [("n__in", "1,2")],
        f"SELECT t.id FROM t WHERE t.n IN (__[POSTCOMPILE_n_1]) {ORDER}",
        {"n_1": [1, 2]},
        f"SELECT t.id FROM t WHERE t.n IN (__[POSTCOMPILE_n_1]) {ORDER}",
        {"n_1": [1, 2]},
    ),
    (
        [("n__notin", "1,2")],
        f"SELECT t.id FROM t WHERE (t.n NOT IN (__[POSTCOMPILE_n_1])) OR t.n IS NULL {ORDER}",
        {"n_1": [1, 2]},
        f"SELECT t.id FROM t WHERE (t.n NOT IN (__[POSTCOMPILE_n_1])) OR t.n IS NULL {ORDER}",
        {"n_1": [1, 2]},
    ),
    (
        [("name__contains", "50%_")],
        f"SELECT t.id FROM t WHERE replace(t.name, ?, ?) != t.name {ORDER}",
        {"replace_1": "50%_", "replace_2": ""},
        "SELECT t.id FROM t WHERE replace(t.name, %(replace_1)s::VARCHAR, %(replace_2)s::VARCHAR)"
        f" != t.name {ORDER}",
        {"replace_1": "50%_", "replace_2": ""},
    ),
    (
        [("name__icontains", "50%_/")],
        # Printable ASCII values go through LIKE alone; others through the Unicode lower().
        "SELECT t.id FROM t WHERE (CASE WHEN (t.name GLOB ?) THEN lower(t.name) LIKE ? ESCAPE '/'"
        f" ELSE t.name LIKE ? ESCAPE '/' END) = 1 {ORDER}",
        {"param_1": "*[^ -~]*", "param_2": "%50/%/_//%"},
        "SELECT t.id FROM t WHERE ((t.name COLLATE \"default\") ILIKE '%%' || %(param_1)s::VARCHAR"
        f" || '%%' ESCAPE '/') {ORDER}",
        {"param_1": "50/%/_//"},
    ),
    (
        [("name__startswith", "Ab")],
        f"SELECT t.id FROM t WHERE substr(t.name, ?, ?) = ? {ORDER}",
        {"substr_1": 1, "substr_2": 2, "substr_3": "Ab"},
        "SELECT t.id FROM t WHERE substr(t.name, %(substr_1)s::INTEGER, %(substr_2)s::INTEGER)"
        f" = %(substr_3)s::VARCHAR {ORDER}",
        {"substr_1": 1, "substr_2": 2, "substr_3": "Ab"},
    ),
    (
        [("name__endswith", "xyz")],
        f"SELECT t.id FROM t WHERE substr(t.name, length(t.name) - ?) = ? {ORDER}",
        {"length_1": 2, "substr_1": "xyz"},
        "SELECT t.id FROM t WHERE substr(t.name, length(t.name) - %(length_1)s::INTEGER)"
        f" = %(substr_1)s::VARCHAR {ORDER}",
        {"length_1": 2, "substr_1": "xyz"},
    ),
    (
        [("name__isnull", "1"), ("score__notnull", "true"), ("day__isnull", "0")],
        "SELECT t.id FROM t WHERE t.name IS NULL AND t.score IS NOT NULL AND t.day IS NOT NULL"
        f" {ORDER}",
        {},
        "SELECT t.id FROM t WHERE t.name IS NULL AND t.score IS NOT NULL AND t.day IS NOT NULL"
        f" {ORDER}",
        {},
    ),
    (
        [("flag", "true")],
        f"SELECT t.id FROM t WHERE t.flag = 1 {ORDER}",
        {},
        f"SELECT t.id FROM t WHERE t.flag = true {ORDER}",
        {},
    ),
    (
        [("_sort", "-n,name")],
        "SELECT t.id, t.n, t.name FROM t"
        " ORDER BY t.n DESC NULLS LAST, t.name ASC NULLS LAST, t.id ASC",
        {},
        "SELECT t.id, t.n, t.name FROM t"
        " ORDER BY t.n DESC NULLS LAST, t.name ASC NULLS LAST, t.id ASC",
        {},
    ),
    (
        [("_sort", "-id")],
        "SELECT t.id FROM t ORDER BY t.id DESC",
        {},
        "SELECT t.id FROM t ORDER BY t.id DESC",
        {},
    ),
    (
        [("_sort", "-n,name"), ("_next", encode_cursor([5, "ab", 7]))],
        "SELECT t.id, t.n, t.name FROM t WHERE t.n < ? OR t.n IS NULL"
        " OR t.n = ? AND (t.name > ? OR t.name IS NULL) OR t.n = ? AND t.name = ? AND t.id > ?"
        " ORDER BY t.n DESC NULLS LAST, t.name ASC NULLS LAST, t.id ASC",
        {"n_1": 5, "n_2": 5, "name_1": "ab", "n_3": 5, "name_2": "ab", "id_1": 7},
        "SELECT t.id, t.n, t.name FROM t WHERE t.n < %(n_1)s::BIGINT OR t.n IS NULL"
        " OR t.n = %(n_2)s::BIGINT AND (t.name > %(name_1)s::VARCHAR OR t.name IS NULL)"
        " OR t.n = %(n_3)s::BIGINT AND t.name = %(name_2)s::VARCHAR AND t.id > %(id_1)s::BIGINT"
        " ORDER BY t.n DESC NULLS LAST, t.name ASC NULLS LAST, t.id ASC",
        {"n_1": 5, "n_2": 5, "name_1": "ab", "n_3": 5, "name_2": "ab", "id_1": 7},
    ),
    (
        [("_sort", "-flag"), ("_next", encode_cursor([True, 3]))],
        "SELECT t.id, t.flag FROM t WHERE t.flag < ? OR t.flag IS NULL OR t.flag = ? AND t.id > ?"
        " ORDER BY t.flag DESC NULLS LAST, t.id ASC",
        {"flag_1": True, "flag_2": True, "id_1": 3},
        "SELECT t.id, t.flag FROM t WHERE t.flag < %(flag_1)s OR t.flag IS NULL"
        " OR t.flag = %(flag_2)s AND t.id > %(id_1)s::BIGINT"
        " ORDER BY t.flag DESC NULLS LAST, t.id ASC",
        {"flag_1": True, "flag_2": True, "id_1": 3},
    ),
    (
        [("n__gt", "0"), ("_sort", "score"), ("_next", encode_cursor([None, 7]))],
        "SELECT t.id, t.score FROM t WHERE t.n > ? AND t.score IS NULL AND t.id > ?"
        " ORDER BY t.score ASC NULLS LAST, t.id ASC",
        {"n_1": 0, "id_1": 7},
        "SELECT t.id, t.score FROM t WHERE t.n > %(n_1)s::BIGINT AND t.score IS NULL"
        " AND t.id > %(id_1)s::BIGINT ORDER BY t.score ASC NULLS LAST, t.id ASC",
        {"n_1": 0, "id_1": 7},
    ),
    (
        [("n__gt", "0"), ("_sort", "-score"), ("_next", encode_cursor([1.5, 7]))],
        "SELECT t.id, t.score FROM t WHERE t.n > ? AND (t.score < ? OR t.score IS NULL"
        " OR t.score = ? AND t.id > ?) ORDER BY t.score DESC NULLS LAST, t.id ASC",
        {"n_1": 0, "score_1": 1.5, "score_2": 1.5, "id_1": 7},
        "SELECT t.id, t.score FROM t WHERE t.n > %(n_1)s::BIGINT AND (t.score < %(score_1)s"
        " OR t.score IS NULL OR t.score = %(score_2)s AND t.id > %(id_1)s::BIGINT)"
        " ORDER BY t.score DESC NULLS LAST, t.id ASC",
        {"n_1": 0, "score_1": 1.5, "score_2": 1.5, "id_1": 7},
    ),
]


@pytest.mark.parametrize(("params", "lite_sql", "lite_params", "pg_sql", "pg_params"), SQL_CASES)
def test_compiled_sql(
    params: list[tuple[str, str]],
    lite_sql: str,
    lite_params: dict[str, Any],
    pg_sql: str,
    pg_params: dict[str, Any],
) -> None:
    projection = [] if not params else [("_col", "id")]
    plan = build_select(SPEC, query(params + projection), limit=None)
    assert compiled(plan.select, sqlite.dialect()) == (lite_sql, lite_params)
    assert compiled(plan.select, postgresql.dialect()) == (pg_sql, pg_params)


def test_page_limit_and_the_plan_of_extra_sort_columns() -> None:
    plan = build_select(SPEC, query([("_sort", "score,-n"), ("_col", "name,n")]), limit=11)
    assert compiled(plan.select, postgresql.dialect()) == (
        "SELECT t.name, t.n, t.score, t.id FROM t"
        " ORDER BY t.score ASC NULLS LAST, t.n DESC NULLS LAST, t.id ASC"
        " LIMIT %(param_1)s::INTEGER",
        {"param_1": 11},
    )
    assert (plan.output_columns, plan.cursor_columns, plan.cursor_positions) == (
        ("name", "n"),
        ("score", "n", "id"),
        (2, 1, 3),
    )
    row = ("kiwi", 4, 0.5, 9)
    assert plan.output_row(row) == ("kiwi", 4)
    assert plan.cursor(row) == encode_cursor([0.5, 4, 9])
    rows = [("a", 1, 0.1, 1), ("b", 2, 0.2, 2), ("c", 3, 0.3, 3)]
    assert plan.page(rows, 2) == ([("a", 1), ("b", 2)], encode_cursor([0.2, 2, 2]))
    assert plan.page(rows, 3) == ([("a", 1), ("b", 2), ("c", 3)], None)
    assert plan.page([], 3) == ([], None)


def test_count_facet_and_row_sql() -> None:
    filtered = query([("n__gt", "1")])
    assert compiled(build_count(SPEC, filtered), sqlite.dialect()) == (
        "SELECT count(*) AS count_1 FROM t WHERE t.n > ?",
        {"n_1": 1},
    )
    assert compiled(build_facet(SPEC, filtered, "name", limit=5), postgresql.dialect()) == (
        "SELECT t.name AS value, count(*) AS count FROM t WHERE t.n > %(n_1)s::BIGINT"
        " GROUP BY t.name ORDER BY count DESC, t.name ASC NULLS LAST LIMIT %(param_1)s::INTEGER",
        {"n_1": 1, "param_1": 5},
    )
    assert compiled(build_row(SPEC, parse_key(SPEC, "7")), sqlite.dialect()) == (
        "SELECT t.id, t.name, t.n, t.day, t.score, t.flag FROM t WHERE t.id = ?",
        {"id_1": 7},
    )


def test_unchecked_names_are_refused_by_the_builder() -> None:
    with pytest.raises(ValueError, match="not a column"):
        build_facet(SPEC, query([]), "name; DROP TABLE t")
    with pytest.raises(ValueError, match="key values"):
        build_row(SPEC, (1, 2))


# Results on real databases ---------------------------------------------------------------------

ROWS: list[dict[str, Any]] = [
    {"id": 1, "name": "Apple", "n": 1, "day": date(2025, 7, 1), "score": 1.5, "flag": True},
    {"id": 2, "name": "apple", "n": 2, "day": date(2025, 7, 2), "score": None, "flag": False},
    {"id": 3, "name": "APPLE pie", "n": 3, "day": date(2025, 7, 3), "score": 2.5, "flag": True},
    {"id": 4, "name": "100% sure", "n": None, "day": None, "score": 0.0, "flag": None},
    {"id": 5, "name": "50_50", "n": 5, "day": date(2025, 7, 5), "score": None, "flag": True},
    {"id": 6, "name": "a_b", "n": 6, "day": date(2025, 7, 6), "score": 3.0, "flag": False},
    {"id": 7, "name": "axb", "n": 7, "day": date(2025, 7, 7), "score": 3.0, "flag": True},
    {"id": 8, "name": "x/y", "n": 8, "day": date(2025, 7, 8), "score": None, "flag": True},
    {"id": 9, "name": None, "n": None, "day": None, "score": None, "flag": None},
    {"id": 10, "name": "Ångström", "n": 10, "day": date(2025, 7, 10), "score": 1.0, "flag": False},
]
ALL_IDS = [row["id"] for row in ROWS]


def _sqlite_engine(tmp_path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{tmp_path / 'build.sqlite'}")


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def loaded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[sa.Engine, TableSpec]]:
    """The ROWS table on SQLite, or in a throw-away schema on PostgreSQL."""
    schema = None
    if request.param == "sqlite":
        engine = _sqlite_engine(tmp_path)
    else:
        url = os.environ.get(PG_ENV)
        if not url:
            pytest.skip(PG_SKIP)
        engine = sa.create_engine(url)
        schema = f"test_build_{uuid.uuid4().hex[:12]}"
        with engine.begin() as connection:
            connection.execute(sa.schema.CreateSchema(schema))
    spec = make_spec(sa.MetaData(schema=schema))
    try:
        with engine.begin() as connection:
            spec.table.create(connection)
            connection.execute(sa.insert(spec.table), ROWS)
        yield engine, spec
    finally:
        if schema is not None:
            with engine.begin() as connection:
                connection.execute(sa.schema.DropSchema(schema, cascade=True))
        engine.dispose()


RESULT_CASES: list[tuple[list[tuple[str, str]], list[int]]] = [
    ([("name__contains", "apple")], [2]),
    ([("name__contains", "Apple")], [1]),
    ([("name__contains", "APPLE")], [3]),
    ([("name__icontains", "apple")], [1, 2, 3]),
    ([("name__icontains", "aPPle")], [1, 2, 3]),
    ([("name__contains", "%")], [4]),
    ([("name__icontains", "%")], [4]),
    ([("name__contains", "_")], [5, 6]),
    ([("name__icontains", "a_b")], [6]),
    ([("name__icontains", "/")], [8]),
    ([("name__icontains", "x/")], [8]),
    ([("name__startswith", "A")], [1, 3]),
    ([("name__startswith", "a")], [2, 6, 7]),
    ([("name__startswith", "a_")], [6]),
    ([("name__startswith", "Å")], [10]),
    ([("name__startswith", "Apple and more")], []),
    ([("name__endswith", "pie")], [3]),
    ([("name__endswith", "PIE")], []),
    ([("name__endswith", "%")], []),
    ([("name__endswith", "e")], [1, 2, 3, 4]),
    ([("name__endswith", "much longer than any apple")], []),
    ([("name", "apple")], [2]),
    ([("name__not", "apple")], [i for i in ALL_IDS if i != 2]),
    ([("n__in", "1,2")], [1, 2]),
    ([("n__notin", "1,2")], [3, 4, 5, 6, 7, 8, 9, 10]),
    ([("n__isnull", "1")], [4, 9]),
    ([("n__notnull", "1")], [1, 2, 3, 5, 6, 7, 8, 10]),
    ([("flag", "false")], [2, 6, 10]),
    ([("flag__not", "true")], [2, 4, 6, 9, 10]),
    ([("day__between", "2025-07-02..2025-07-05")], [2, 3, 5]),
    ([("day__between", "2025-07-08..")], [8, 10]),
    ([("score__gt", "2")], [3, 6, 7]),
    ([("score__between", "..1.5")], [1, 4, 10]),
    ([("score__gte", "1"), ("n__lt", "5")], [1, 3]),
    ([("_sort", "-score")], [6, 7, 3, 1, 10, 4, 2, 5, 8, 9]),
    ([("_sort", "score")], [4, 10, 1, 3, 6, 7, 2, 5, 8, 9]),
    ([("_sort", "-n")], [10, 8, 7, 6, 5, 3, 2, 1, 4, 9]),
]


@pytest.mark.parametrize(("params", "expected"), RESULT_CASES)
def test_results(
    loaded: tuple[sa.Engine, TableSpec], params: list[tuple[str, str]], expected: list[int]
) -> None:
    engine, spec = loaded
    plan = build_select(spec, query([*params, ("_col", "id")], spec), limit=None)
    with engine.connect() as connection:
        rows = connection.execute(plan.select).all()
    assert [plan.output_row(row)[0] for row in rows] == expected
    with engine.connect() as connection:
        total = connection.execute(build_count(spec, query(params, spec))).scalar_one()
    assert total == len(expected)


@pytest.mark.parametrize(
    ("needle", "expected"),
    [("ÅNG", [10]), ("ångström", [10]), ("NGSTR", [10]), ("apple", [1, 2, 3]), ("Å", [10])],
)
def test_icontains_folds_unicode_case_as_the_server_reads(
    loaded: tuple[sa.Engine, TableSpec], needle: str, expected: list[int]
) -> None:
    """Through the server's own engine: ASCII values by LIKE, others by the Unicode lower()."""
    engine, spec = loaded
    reader = reader_engine(engine.url.render_as_string(hide_password=False))
    try:
        plan = build_select(
            spec, query([("name__icontains", needle), ("_col", "id")], spec), limit=None
        )
        with reader.connect() as connection:
            rows = connection.execute(plan.select).all()
    finally:
        reader.dispose()
    assert [plan.output_row(row)[0] for row in rows] == expected


def test_facets_count_and_row_on_a_database(loaded: tuple[sa.Engine, TableSpec]) -> None:
    engine, spec = loaded
    with engine.connect() as connection:
        facet = connection.execute(build_facet(spec, query([], spec), "score")).all()
        few = connection.execute(build_facet(spec, query([], spec), "score", limit=3)).all()
        apples = connection.execute(
            build_facet(spec, query([("name__icontains", "apple")], spec), "flag")
        ).all()
        row = connection.execute(build_row(spec, parse_key(spec, "3"))).one()
        missing = connection.execute(build_row(spec, parse_key(spec, "99"))).all()
    assert [tuple(r) for r in facet] == [
        (None, 4),
        (3.0, 2),
        (0.0, 1),
        (1.0, 1),
        (1.5, 1),
        (2.5, 1),
    ]
    assert [tuple(r) for r in few] == [(None, 4), (3.0, 2), (0.0, 1)]
    assert [tuple(r) for r in apples] == [(True, 2), (False, 1)]
    assert tuple(row) == (3, "APPLE pie", 3, date(2025, 7, 3), 2.5, True)
    assert missing == []


# A filter value must be stored the way the loader stores it, or it would never match.
STORED_SAMPLES: list[tuple[str, str]] = [
    ("number", "1.5"),
    ("number", "1e3"),
    ("integer", "3"),
    ("datetime", "2025-07-01T10:00:00+07:00"),
    ("datetime", "2025-07-01T10:00:00"),
    ("date", "2025-07-01"),
    ("time", "10:00:00"),
    ("year", "2025"),
    ("yearmonth", "2025-07"),
    ("duration", "P1D"),
    ("duration", "P1Y2M"),
    ("boolean", "true"),
    ("string", "x"),
    ("any", "x"),
]


STORED_FORMS_EXPECTED = {
    ("number", "1.5"): 1.5,
    ("number", "1e3"): 1000.0,
    ("datetime", "2025-07-01T10:00:00+07:00"): dt.datetime(2025, 7, 1, 3, 0),
    ("datetime", "2025-07-01T10:00:00"): dt.datetime(2025, 7, 1, 10, 0),
    ("yearmonth", "2025-07"): "2025-07",
    ("duration", "P1D"): "P1D",
    ("duration", "P1Y2M"): "P1Y2M",
    ("any", "x"): "x",
}


@pytest.mark.parametrize(("field_type", "text"), STORED_SAMPLES)
def test_filter_values_take_the_loaders_stored_form(field_type: str, text: str) -> None:
    read = frictionless.Field.from_descriptor({"name": "v", "type": field_type})
    value = read.create_value_reader()(text)
    expected = STORED_FORMS_EXPECTED.get((field_type, text), value)
    stored = stored_value(field_type, value)
    assert stored == expected
    assert type(stored) is type(expected)
