"""Row diffs: the merge-join on the key, change records, row streams from the database."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from api.db.budget import QueryBudget
from api.db.diffsource import LoadedDiffs, ordered_rows, ordered_select
from api.db.engine import reader_engine
from api.db.releases import Catalog
from api.diff.rows import (
    RowChange,
    RowOrderError,
    change_record,
    csv_header,
    csv_row,
    diff_rows,
    tally,
)
from api.ingest.release import (
    diff_folders,
    folder_rows,
    open_package,
    package_releases,
    resolve_release,
)
from tests.helpers import FIXTURES, MakeDatabase, table_spec

Row = dict[str, Any]


# Row merge-join --------------------------------------------------------------------------------

A, B = {"id": 1, "v": "a"}, {"id": 2, "v": "b"}
ROW_CASES: list[
    tuple[str, list[Row], list[Row], list[tuple[str, tuple[Any, ...], tuple[str, ...]]]]
] = [
    ("both empty", [], [], []),
    ("older empty", [], [A, B], [("added", (1,), ()), ("added", (2,), ())]),
    ("newer empty", [A, B], [], [("removed", (1,), ()), ("removed", (2,), ())]),
    ("identical", [A, B], [dict(A), dict(B)], []),
    (
        "all changed",
        [A, B],
        [{"id": 1, "v": "x"}, {"id": 2, "v": "y"}],
        [("changed", (1,), ("v",)), ("changed", (2,), ("v",))],
    ),
    (
        "interleaved",
        [{"id": 1}, {"id": 3}, {"id": 5}],
        [{"id": 2}, {"id": 3}, {"id": 6}],
        [
            ("removed", (1,), ()),
            ("added", (2,), ()),
            ("removed", (5,), ()),
            ("added", (6,), ()),
        ],
    ),
    (
        "nulls",
        [{"id": 1, "v": None}, {"id": 2, "v": "b"}, {"id": 3, "v": None}, {"id": 4, "v": 0}],
        [{"id": 1, "v": "a"}, {"id": 2, "v": None}, {"id": 3, "v": None}, {"id": 4, "v": None}],
        [("changed", (1,), ("v",)), ("changed", (2,), ("v",)), ("changed", (4,), ("v",))],
    ),
    (
        "nan equals nan, floats by value",
        [{"id": 1, "v": math.nan}, {"id": 2, "v": 1.5}, {"id": 3, "v": 2}],
        [{"id": 1, "v": math.nan}, {"id": 2, "v": 1.5}, {"id": 3, "v": 2.0}],
        [],
    ),
    (
        "a date is a date",
        [{"id": 1, "v": date(2025, 7, 1)}],
        [{"id": 1, "v": "2025-07-01"}],
        [("changed", (1,), ("v",))],
    ),
    (
        "only compared fields count",
        [{"id": 1, "v": "a", "w": 1}],
        [{"id": 1, "v": "a", "w": 2}],
        [],
    ),
]


@pytest.mark.parametrize(
    ("before", "after", "expected"), [pytest.param(*case[1:], id=case[0]) for case in ROW_CASES]
)
def test_diff_rows(
    before: list[Row],
    after: list[Row],
    expected: list[tuple[str, tuple[Any, ...], tuple[str, ...]]],
) -> None:
    changes = list(diff_rows(before, after, key=["id"], fields=["v"]))
    assert [(c.diff_type, c.key, c.changed) for c in changes] == expected
    counts = tally(before, after, key=["id"], fields=["v"])
    by_type = {t: sum(1 for c in expected if c[0] == t) for t in ("added", "removed", "changed")}
    assert counts.as_dict() == {
        **by_type,
        "unchanged": len(before) - by_type["removed"] - by_type["changed"],
    }


def test_diff_rows_on_a_composite_key_with_dates() -> None:
    before = [
        {"day": date(2025, 7, 1), "seq": 2, "label": "raid"},
        {"day": date(2025, 7, 1), "seq": 10, "label": "report"},
        {"day": date(2025, 7, 2), "seq": 1, "label": "start"},
    ]
    after = [
        {"day": date(2025, 7, 1), "seq": 2, "label": "raid"},
        {"day": date(2025, 7, 1), "seq": 3, "label": "new"},
        {"day": date(2025, 7, 1), "seq": 10, "label": "final report"},
        {"day": date(2025, 7, 3), "seq": 1, "label": "end"},
    ]
    changes = list(diff_rows(before, after, key=["day", "seq"], fields=["label"]))
    assert changes == [
        RowChange("added", (date(2025, 7, 1), 3), None, after[1]),
        RowChange("changed", (date(2025, 7, 1), 10), before[1], after[2], ("label",)),
        RowChange("removed", (date(2025, 7, 2), 1), before[2], None),
        RowChange("added", (date(2025, 7, 3), 1), None, after[3]),
    ]


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        (
            [{"id": 2}, {"id": 1}],
            [],
            r"rows of the older release are not in primary-key order: \(1,\) comes after \(2,\)",
        ),
        ([], [{"id": 1}, {"id": 1}], r"rows of the newer release are not in primary-key order"),
        ([{"id": None}], [], r"a row of the older release has no value for key \['id'\]"),
        ([{"id": 1}, {"id": "a"}], [], r"not in primary-key order"),
        ([{"id": 1}], [{"id": "a"}], r"keys \(1,\) and \('a',\) cannot be compared"),
    ],
)
def test_diff_rows_refuses_streams_out_of_key_order(
    before: list[Row], after: list[Row], message: str
) -> None:
    with pytest.raises(RowOrderError, match=message):
        list(diff_rows(before, after, key=["id"], fields=[]))


OLD = {"id": 1, "v": "a", "w": None, "gone": 1}
NEW = {"id": 1, "v": "b", "w": None, "new": 2}


@pytest.mark.parametrize(
    ("change", "record", "cells"),
    [
        (
            RowChange("changed", (1,), OLD, NEW, ("v",)),
            {"resource": "t", "diff_type": "changed", "key": {"id": 1}, "from_v": "a", "to_v": "b"},
            [1, "changed", "a", "b", None, None],
        ),
        (
            RowChange("added", (1,), None, NEW),
            {
                "resource": "t",
                "diff_type": "added",
                "key": {"id": 1},
                "to_v": "b",
                "to_w": None,
                "to_new": 2,
            },
            [1, "added", None, "b", None, None],
        ),
        (
            RowChange("removed", (1,), OLD, None),
            {
                "resource": "t",
                "diff_type": "removed",
                "key": {"id": 1},
                "from_v": "a",
                "from_w": None,
                "from_gone": 1,
            },
            [1, "removed", "a", None, None, None],
        ),
    ],
)
def test_change_shapes(change: RowChange, record: Row, cells: list[Any]) -> None:
    assert change_record("t", change, ["id"]) == record
    assert csv_header(["id"], ["v", "w"]) == ["id", "diff_type", "from_v", "to_v", "from_w", "to_w"]
    assert csv_row(change, ["v", "w"]) == cells


# Row streams from the database -----------------------------------------------------------------


def test_ordered_select_sorts_text_keys_by_code_point() -> None:
    fields = [
        {"name": "k", "type": "string"},
        {"name": "n", "type": "integer"},
        {"name": "v", "type": "number"},
    ]
    spec = table_spec(fields, ["k", "n"])
    select = ordered_select(spec, "postgresql", ("a", 1))
    assert str(select.compile(dialect=postgresql.dialect())).split("\n")[-1] == (
        'WHERE (t.k COLLATE "C") > %(after_0_1)s::VARCHAR OR t.k = %(after_0_1)s::VARCHAR'
        ' AND t.n > %(after_1_1)s::BIGINT ORDER BY t.k COLLATE "C", t.n'
    )
    select = ordered_select(spec, "sqlite", ("a", 1))
    assert str(select.compile(dialect=sqlite.dialect())).split("\n")[-1] == (
        'WHERE (t.k COLLATE "BINARY") > ? OR t.k = ? AND t.n > ? ORDER BY t.k COLLATE "BINARY", t.n'
    )


KEYS = ["a-1", "B-2", "a_2", "b-1", "C-3", "é", "z", "Y", "a"]


@pytest.mark.parametrize(
    "dialect",
    [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def test_ordered_rows_follow_python_order_whatever_the_column_collation(
    dialect: str, make_database: MakeDatabase
) -> None:
    url = make_database(dialect)
    engine = sa.create_engine(url)
    collation = "und-x-icu" if dialect == "postgresql" else "NOCASE"
    with engine.begin() as connection:
        if dialect == "postgresql":
            found = connection.exec_driver_sql(
                "SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'"
            ).first()
            if found is None:
                pytest.skip("PostgreSQL has no ICU collation to sort differently with")
        metadata = sa.MetaData()
        keyed = sa.Table(
            "keyed",
            metadata,
            sa.Column("k", sa.Text(collation=collation), primary_key=True),
            sa.Column("n", sa.Integer, primary_key=True, autoincrement=False),
        )
        metadata.create_all(connection)
        connection.execute(sa.insert(keyed), [{"k": k, "n": n} for k in KEYS for n in (10, 2)])
    keys = [{"name": "k", "type": "string"}, {"name": "n", "type": "integer"}]
    spec = table_spec(keys, ["k", "n"], table=keyed)
    expected = sorted((k, n) for k in KEYS for n in (10, 2))
    with engine.connect() as connection:
        assert [(r["k"], r["n"]) for r in ordered_rows(connection, spec, budget=30)] == expected
        rows = ordered_rows(connection, spec, budget=30, after=("a_2", 2))
        after = [(r["k"], r["n"]) for r in rows]
        assert after == [key for key in expected if key > ("a_2", 2)]
    engine.dispose()


# The database and the release folders give the same diff ---------------------------------------


FIXTURE_PAIRS = [
    ("1.0.0", "1.1.0"),
    ("1.1.0", "1.1.1"),
    ("1.1.1", "2.0.0"),
    ("1.0.0", "2.0.0"),
    ("2.0.0", "1.0.0"),
]


@pytest.mark.parametrize(("old", "new"), FIXTURE_PAIRS)
def test_database_and_folders_give_the_same_diff(diffpkg_url: str, old: str, new: str) -> None:
    engine = reader_engine(diffpkg_url)
    source = LoadedDiffs(engine, Catalog(engine), budget=QueryBudget(30))
    snapshot = source.catalog.snapshot()
    loaded = source.diff(snapshot.release("diffpkg", old), snapshot.release("diffpkg", new))
    refs = package_releases(FIXTURES, "diffpkg")
    before, after = resolve_release(refs, old), resolve_release(refs, new)
    from_folders = diff_folders(before, after)
    assert loaded.as_dict() == from_folders.as_dict()
    page = source.page(loaded, size=1000)
    expected = []
    old_package, new_package = (
        open_package(before.descriptor_path),
        open_package(after.descriptor_path),
    )
    for item in from_folders.resources:
        if item.counts is None:
            continue
        pair = item.pair
        changes = diff_rows(
            folder_rows(old_package, pair.name, pair.key),
            folder_rows(new_package, pair.name, pair.key),
            key=pair.key,
            fields=pair.compared_fields,
        )
        expected.extend((pair.name, change) for change in changes)
    assert list(page.changes) == expected
    assert page.next is None
    engine.dispose()
