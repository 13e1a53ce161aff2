"""Release diffs: schema changes and bumps, the row merge-join, the diff API on both backends."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from api.config import Settings
from api.db.diffsource import LoadedDiffs, ordered_rows, ordered_select
from api.db.engine import reader_engine, writer_engine
from api.db.releases import Catalog
from api.db.sqltypes import build_table
from api.diff import (
    Bump,
    ReleaseShape,
    ResourcePair,
    ResourceShape,
    RowChange,
    RowOrderError,
    change_record,
    csv_header,
    csv_row,
    declared_bump,
    diff_releases,
    diff_rows,
    diff_schemas,
    next_version,
    parse_bump,
    release_shape,
    tally,
)
from api.diff.schema import constraint_change
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader
from api.ingest.release import (
    diff_folders,
    folder_rows,
    open_package,
    package_releases,
    resolve_release,
)
from api.main import create_app
from api.model import FieldSpec, TableSpec
from tests.helpers import BASE_URL, FLAGSHIP

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DIFFPKG = FIXTURES / "diffpkg"
DIFF_PATH = "/v1/datasets/{package}/diff"

Row = dict[str, Any]


# Schema diff and bumps -------------------------------------------------------------------------


def fld(name: str, type_: str = "string", **constraints: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "type": type_}
    if constraints:
        found["constraints"] = constraints
    return found


def release(*resources: dict[str, Any], version: str = "1.0.0", **meta: Any) -> ReleaseShape:
    """A release shape from resource descriptors (with inline schemas) and package metadata."""
    return release_shape({"name": "p", "version": version, **meta, "resources": list(resources)})


def table(name: str, *fields: dict[str, Any], key: Sequence[str] = ("id",), **more: Any) -> Row:
    schema: Row = {"fields": [fld("id", "integer"), *fields], "primaryKey": list(key)}
    schema.update(more.pop("schema", {}))
    return {"name": name, "path": f"data/{name}.csv", **more, "schema": schema}


def one(*fields: dict[str, Any], **more: Any) -> ReleaseShape:
    """A release with one resource `t` keyed by an integer `id`."""
    return release(table("t", *fields, **more))


Change = tuple[str, str | None, str | None, str | None]

SCHEMA_CASES: list[tuple[str, ReleaseShape, ReleaseShape, list[Change], Bump]] = [
    ("identical", one(fld("a")), one(fld("a")), [], Bump.NONE),
    (
        "only version, created, bytes and hash differ",
        release(table("t", bytes=1, hash="sha256:aa"), created="2025-01-01"),
        release(table("t", bytes=2, hash="sha256:bb"), version="1.0.1", created="2025-02-01"),
        [],
        Bump.NONE,
    ),
    ("field added", one(), one(fld("a")), [("field_added", "t", "a", None)], Bump.MINOR),
    ("field removed", one(fld("a")), one(), [("field_removed", "t", "a", None)], Bump.MAJOR),
    (
        "field renamed",
        one(fld("a")),
        one(fld("b")),
        [("field_removed", "t", "a", None), ("field_added", "t", "b", None)],
        Bump.MAJOR,
    ),
    (
        "field retyped",
        one(fld("a", "integer")),
        one(fld("a", "number")),
        [("field_retyped", "t", "a", None)],
        Bump.MAJOR,
    ),
    (
        "format changed",
        one(fld("a", "date")),
        one({**fld("a", "date"), "format": "%d/%m/%Y"}),
        [("field_retyped", "t", "a", None)],
        Bump.MAJOR,
    ),
    (
        "default format spelled out",
        one(fld("a", "date")),
        one({**fld("a", "date"), "format": "default"}),
        [],
        Bump.NONE,
    ),
    (
        "fields reordered",
        one(fld("a"), fld("b")),
        one(fld("b"), fld("a")),
        [("fields_reordered", "t", None, None)],
        Bump.MAJOR,
    ),
    (
        "field added between others is no reorder",
        one(fld("a"), fld("b")),
        one(fld("a"), fld("c"), fld("b")),
        [("field_added", "t", "c", None)],
        Bump.MINOR,
    ),
    (
        "required added",
        one(fld("a")),
        one(fld("a", required=True)),
        [("constraint_tightened", "t", "a", "required")],
        Bump.MAJOR,
    ),
    (
        "required dropped",
        one(fld("a", required=True)),
        one(fld("a")),
        [("constraint_loosened", "t", "a", "required")],
        Bump.MINOR,
    ),
    ("required false spelled out", one(fld("a")), one(fld("a", required=False)), [], Bump.NONE),
    (
        "minimum raised",
        one(fld("a", "integer", minimum=0)),
        one(fld("a", "integer", minimum=1)),
        [("constraint_tightened", "t", "a", "minimum")],
        Bump.MAJOR,
    ),
    (
        "minimum lowered",
        one(fld("a", "integer", minimum=1)),
        one(fld("a", "integer", minimum=0)),
        [("constraint_loosened", "t", "a", "minimum")],
        Bump.MINOR,
    ),
    (
        "maxLength lowered, enum narrowed, pattern changed",
        one(fld("a", maxLength=9, enum=["x", "y"], pattern="^x"), fld("b")),
        one(fld("a", maxLength=8, enum=["x"], pattern="^y"), fld("b")),
        [
            ("constraint_tightened", "t", "a", "maxLength"),
            ("constraint_tightened", "t", "a", "enum"),
            ("constraint_tightened", "t", "a", "pattern"),
        ],
        Bump.MAJOR,
    ),
    (
        "enum widened",
        one(fld("a", enum=["x"])),
        one(fld("a", enum=["x", "y"])),
        [("constraint_loosened", "t", "a", "enum")],
        Bump.MINOR,
    ),
    (
        "foreign key added",
        release(table("t"), table("u", fld("t_id", "integer"))),
        release(
            table("t"),
            table(
                "u",
                fld("t_id", "integer"),
                schema={
                    "foreignKeys": [
                        {"fields": ["t_id"], "reference": {"resource": "t", "fields": ["id"]}}
                    ]
                },
            ),
        ),
        [("constraint_tightened", "u", None, "foreignKeys")],
        Bump.MAJOR,
    ),
    (
        "primary key changed",
        one(fld("a")),
        one(fld("a"), key=("id", "a")),
        [("primary_key_changed", "t", None, None)],
        Bump.MAJOR,
    ),
    (
        "resource added",
        release(table("t")),
        release(table("t"), table("u")),
        [("resource_added", "u", None, None)],
        Bump.MINOR,
    ),
    (
        "resource removed",
        release(table("t"), table("u")),
        release(table("t")),
        [("resource_removed", "u", None, None)],
        Bump.MAJOR,
    ),
    (
        "resource renamed",
        release(table("t")),
        release(table("u")),
        [("resource_added", "u", None, None), ("resource_removed", "t", None, None)],
        Bump.MAJOR,
    ),
    (
        "metadata of package, resource, schema and field edited",
        release(
            table("t", {**fld("a"), "title": "A"}, title="T", schema={"missingValues": [""]}),
            description="old",
        ),
        release(
            table(
                "t",
                {**fld("a"), "title": "Alpha"},
                title="Tee",
                schema={"missingValues": ["", "NA"]},
            ),
            description="new",
            keywords=["k"],
        ),
        [
            ("metadata_changed", None, None, "description"),
            ("metadata_changed", None, None, "keywords"),
            ("metadata_changed", "t", "a", "title"),
            ("metadata_changed", "t", None, "schema.missingValues"),
            ("metadata_changed", "t", None, "title"),
        ],
        Bump.PATCH,
    ),
]


@pytest.mark.parametrize(
    ("before", "after", "expected", "bump"),
    [pytest.param(*case[1:], id=case[0]) for case in SCHEMA_CASES],
)
def test_schema_diff(
    before: ReleaseShape, after: ReleaseShape, expected: list[Change], bump: Bump
) -> None:
    changes = diff_schemas(before, after)
    assert [(c.change, c.resource, c.field, c.detail) for c in changes] == expected
    assert max((c.bump for c in changes), default=Bump.NONE) is bump


CONSTRAINT_CASES = [
    ("required", None, True, "constraint_tightened"),
    ("required", True, None, "constraint_loosened"),
    ("required", False, None, None),
    ("unique", None, True, "constraint_tightened"),
    ("minimum", 0, 1, "constraint_tightened"),
    ("minimum", 1, 0, "constraint_loosened"),
    ("minimum", None, 0, "constraint_tightened"),
    ("minimum", 0, None, "constraint_loosened"),
    ("minimum", "2025-01-01", "2025-02-01", "constraint_tightened"),
    ("minimum", 0, "1", "constraint_tightened"),
    ("exclusiveMinimum", 0, 1, "constraint_tightened"),
    ("minLength", 1, 2, "constraint_tightened"),
    ("maximum", 10, 9, "constraint_tightened"),
    ("maximum", 9, 10, "constraint_loosened"),
    ("exclusiveMaximum", 9, 10, "constraint_loosened"),
    ("maxLength", 40, 30, "constraint_tightened"),
    ("maxLength", 30, 40, "constraint_loosened"),
    ("maxLength", 30, 30, None),
    ("enum", ["a", "b"], ["a"], "constraint_tightened"),
    ("enum", ["a"], ["a", "b"], "constraint_loosened"),
    ("enum", ["a", "b"], ["a", "c"], "constraint_tightened"),
    ("enum", ["a", "b"], ["b", "a"], "constraint_loosened"),
    ("enum", None, ["a"], "constraint_tightened"),
    ("enum", ["a"], None, "constraint_loosened"),
    ("pattern", "^a", "^b", "constraint_tightened"),
    ("pattern", None, "^a", "constraint_tightened"),
    ("pattern", "^a", None, "constraint_loosened"),
    ("jsonSchema", {"type": "object"}, {"type": "array"}, "constraint_tightened"),
    ("jsonSchema", {"type": "object"}, None, "constraint_loosened"),
]


@pytest.mark.parametrize(("name", "before", "after", "expected"), CONSTRAINT_CASES)
def test_constraint_change(name: str, before: Any, after: Any, expected: str | None) -> None:
    assert constraint_change(name, before, after) == expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("1.0.0", "1.0.0", Bump.NONE),
        ("1.0.0", "1.0.1", Bump.PATCH),
        ("1.0.9", "1.1.0", Bump.MINOR),
        ("1.9.9", "2.0.0", Bump.MAJOR),
        ("1.2.3", "1.2.3+build.7", Bump.NONE),
        ("2.0.0-rc.1", "2.0.0", Bump.MAJOR),  # the release a pre-release prepared
        ("1.1.0-rc.1", "1.1.0", Bump.MINOR),
        ("1.1.0-rc.1", "1.1.0-rc.2", Bump.MINOR),
        ("1.0.1-rc.1", "1.0.1", Bump.PATCH),
        ("2.0.0", "2.0.0-rc.1", None),  # backwards: a pre-release comes before its release
        ("2.0.0-rc.2", "2.0.0-rc.1", None),
        ("1.4.0", "2.0.0-rc.1", Bump.MAJOR),
        ("1.1.0", "1.0.0", None),
        ("2.0.0", "1.9.0", None),
        ("latest", "1.0.0", None),
    ],
)
def test_declared_bump(before: str, after: str, expected: Bump | None) -> None:
    assert declared_bump(before, after) is expected


@pytest.mark.parametrize(
    ("version", "bump", "expected"),
    [
        ("1.2.3", Bump.PATCH, "1.2.4"),
        ("1.2.3", Bump.MINOR, "1.3.0"),
        ("1.2.3", Bump.MAJOR, "2.0.0"),
        ("2.0.0-rc.1", Bump.PATCH, "2.0.1"),
    ],
)
def test_next_version(version: str, bump: Bump, expected: str) -> None:
    assert next_version(version, bump) == expected


def test_next_version_and_parse_bump_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="not a SemVer"):
        next_version("v1", Bump.PATCH)
    with pytest.raises(ValueError, match="major, minor or patch"):
        next_version("1.0.0", Bump.NONE)
    with pytest.raises(ValueError, match="not one of"):
        parse_bump("huge")
    assert parse_bump("MAJOR") is Bump.MAJOR


def shape(*fields: dict[str, Any], key: Sequence[str] = ("id",)) -> ResourceShape:
    return release(table("t", *fields, key=key)).resources[0]


@pytest.mark.parametrize(
    ("pair", "status", "key", "fields", "reason"),
    [
        (ResourcePair("t", None, shape()), "added", (), (), None),
        (ResourcePair("t", shape(), None), "removed", (), (), None),
        (
            ResourcePair(
                "t",
                shape(fld("a"), fld("b", "integer")),
                shape(fld("b", "number"), fld("a"), fld("c")),
            ),
            "compared",
            ("id",),
            ("id", "a"),
            None,
        ),
        (
            ResourcePair("t", shape(fld("a")), shape(fld("a"), key=("id", "a"))),
            "not_comparable",
            (),
            (),
            'its primary key changed from ["id"] to ["id", "a"]',
        ),
        (
            ResourcePair(
                "t",
                release(table("t", key=("id",))).resources[0],
                release(
                    {"name": "t", "schema": {"fields": [fld("id")], "primaryKey": "id"}}
                ).resources[0],
            ),
            "not_comparable",
            (),
            (),
            "primary key field 'id' changed type from integer to string",
        ),
        (
            ResourcePair("t", shape(key=()), shape(key=())),
            "not_comparable",
            (),
            (),
            "it has no primary key",
        ),
        (
            ResourcePair(
                "t",
                shape(fld("loc", "geopoint"), key=("loc",)),
                shape(fld("loc", "geopoint"), key=("loc",)),
            ),
            "not_comparable",
            (),
            (),
            "primary key field 'loc' is a geopoint, which has no order to match by",
        ),
    ],
)
def test_resource_pairs(
    pair: ResourcePair,
    status: str,
    key: tuple[str, ...],
    fields: tuple[str, ...],
    reason: str | None,
) -> None:
    assert (pair.status, pair.key, pair.compared_fields, pair.reason) == (
        status,
        key,
        fields,
        reason,
    )


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


# Release diffs: reasons, bump check and summary ------------------------------------------------


def test_release_diff_names_the_change_that_needs_a_bigger_bump() -> None:
    before = release(table("figures", fld("value", "integer")), version="1.2.0")
    after = release(table("figures"), version="1.3.0")
    found = diff_releases(
        "p", before, after, lambda _pair: tally([], [{"id": 1}], key=["id"], fields=[])
    )
    assert (found.required_bump, found.declared_bump, found.bump_ok) == (
        Bump.MAJOR,
        Bump.MINOR,
        False,
    )
    assert found.shortfall() == (
        "field 'value' removed from resource 'figures' requires a major release;"
        " 1.3.0 declares minor"
    )
    assert found.summary_line() == (
        "Field 'value' removed from resource 'figures'; 1 row added to resource 'figures'."
    )


def test_release_diff_backwards_and_identical() -> None:
    newer, older = release(table("t"), version="1.1.0"), release(table("t"), version="1.0.0")
    backwards = diff_releases(
        "p", newer, older, lambda _pair: tally([{"id": 1}], [], key=["id"], fields=[])
    )
    assert (backwards.required_bump, backwards.declared_bump, backwards.bump_ok) == (
        Bump.PATCH,
        None,
        None,
    )
    assert backwards.shortfall() is None
    same = diff_releases("p", older, newer, lambda _pair: tally([], [], key=["id"], fields=[]))
    assert (same.required_bump, same.bump_ok, same.summary_line()) == (
        Bump.NONE,
        True,
        "No changes to data or metadata.",
    )


# Row streams from the database -----------------------------------------------------------------


def _spec(table_: sa.Table, key: Sequence[str]) -> TableSpec:
    return TableSpec(
        package="p",
        version="1.0.0",
        resource="r",
        table=table_,
        fields=tuple(
            FieldSpec(c.name, "string" if isinstance(c.type, sa.String) else "integer")
            for c in table_.columns
        ),
        primary_key=tuple(key),
        row_count=0,
    )


def test_ordered_select_sorts_text_keys_by_code_point() -> None:
    fields = [
        {"name": "k", "type": "string"},
        {"name": "n", "type": "integer"},
        {"name": "v", "type": "number"},
    ]
    spec = _spec(build_table(sa.MetaData(), "t", fields, ["k", "n"]), ["k", "n"])
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
    dialect: str, make_database: Any
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
    spec = _spec(keyed, ["k", "n"])
    expected = sorted((k, n) for k in KEYS for n in (10, 2))
    with engine.connect() as connection:
        assert [(r["k"], r["n"]) for r in ordered_rows(connection, spec)] == expected
        after = [(r["k"], r["n"]) for r in ordered_rows(connection, spec, after=("a_2", 2))]
        assert after == [key for key in expected if key > ("a_2", 2)]
    engine.dispose()


# The diff API on the fixture package, on both backends -----------------------------------------


@pytest.fixture(scope="session")
def diffpkg_url(backend: str, make_database: Any) -> str:
    """A database with every release of the diffpkg fixture loaded."""
    url: str = make_database(backend)
    engine = writer_engine(url)
    summary = ReleaseLoader(engine, quiet=True).load_all(find_releases(FIXTURES, [DIFFPKG]))
    engine.dispose()
    assert summary.ok, (summary.refused, summary.conflicts)
    return url


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http,
    ):
        yield http


@pytest.fixture
async def diff_client(diffpkg_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=diffpkg_url, base_url=BASE_URL, datasets_dir=FIXTURES)
    async for http in _client(settings):
        yield http


@pytest.fixture
async def flagship_diff_client(flagship_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(flagship_settings):
        yield http


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


def problem(status: int, detail: str, path: str, **extra: Any) -> Row:
    code = {400: "bad-query", 404: "not-found"}[status]
    title = {400: "Bad query", 404: "Not found"}[status]
    return {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": path,
        **extra,
    }


def bad(path: str, *errors: tuple[str, str, str]) -> tuple[int, Row]:
    listed = "; ".join(f"{param}: {message}" for param, _, message in errors)
    return 400, problem(
        400,
        f"{len(errors)} problem(s) in the query: {listed}",
        path,
        errors=[{"param": p, "code": c, "message": m} for p, c, m in errors],
    )


JSON_PATH = "/v1/datasets/diffpkg/diff"
CSV_PATH = "/v1/datasets/diffpkg/diff.csv"
ERROR_CASES = [
    (
        "/v1/datasets/nopkg/diff?from=1.0.0&to=1.1.0",
        (404, problem(404, "no package named 'nopkg'", "/v1/datasets/nopkg/diff")),
    ),
    (
        f"{JSON_PATH}?from=9.0.0&to=1.1.0",
        (
            404,
            problem(
                404,
                "package 'diffpkg' has no release '9.0.0' (releases: 1.0.0, 1.1.0, 1.1.1, 2.0.0)",
                JSON_PATH,
            ),
        ),
    ),
    (
        f"{JSON_PATH}?from=1.0.0&to=1.1.0&resource=nothing",
        (
            404,
            problem(
                404,
                "neither diffpkg 1.0.0 nor 1.1.0 has a resource 'nothing'"
                " (resources: figures, regions, events, sources)",
                JSON_PATH,
            ),
        ),
    ),
    (
        f"{JSON_PATH}?to=1.1.0&_size=0&_size=2&colour=red",
        bad(
            JSON_PATH,
            (
                "colour",
                "unknown-parameter",
                "colour is not a parameter of a diff; they are: from, to, resource, _size, _next.",
            ),
            ("_size", "duplicate-parameter", "_size is given 2 times; give it once."),
            (
                "from",
                "missing-parameter",
                "from is required: the older release, a version such as 1.0.0 or latest.",
            ),
            ("_size", "invalid-size", "_size must be a whole number from 1 to 1000; got '0'."),
        ),
    ),
    (
        f"{JSON_PATH}?from=1.0.0&to=1.1.0&_next=nonsense",
        bad(
            JSON_PATH,
            (
                "_next",
                "invalid-cursor",
                "_next is not a cursor of this diff; start again from the first page.",
            ),
        ),
    ),
    (
        f"{JSON_PATH}?from=1.0.0&to=1.1.0&_next=",
        bad(
            JSON_PATH,
            (
                "_next",
                "invalid-cursor",
                "_next is not a cursor of this diff; start again from the first page.",
            ),
        ),
    ),
    (
        f"{JSON_PATH}?from=1.0.0&to=1.1.0&resource=regions&_next=figures.WyJhLTEiXQ",
        bad(
            JSON_PATH,
            (
                "_next",
                "invalid-cursor",
                "_next is not a cursor of this diff; start again from the first page.",
            ),
        ),
    ),
    (
        f"{JSON_PATH}?from=1.0.0&to=1.1.0&_next=figures.WzFd",
        bad(
            JSON_PATH,
            (
                "_next",
                "invalid-cursor",
                "_next holds a value for 'figure_id' that is not a string;"
                " start again from the first page.",
            ),
        ),
    ),
    (
        f"{CSV_PATH}?from=1.0.0&to=1.1.0&_size=3",
        bad(
            CSV_PATH,
            (
                "_size",
                "unknown-parameter",
                "_size is not a parameter of a CSV diff; they are: from, to, resource.",
            ),
            (
                "resource",
                "missing-parameter",
                "resource is required: the name of a resource of either release.",
            ),
        ),
    ),
    (
        f"{CSV_PATH}?from=1.1.1&to=2.0.0&resource=sources",
        bad(
            CSV_PATH,
            (
                "resource",
                "not-comparable",
                "the rows of resource 'sources' cannot be compared: its primary key changed from"
                ' ["source_id"] to ["source_id", "lang"].',
            ),
        ),
    ),
    (
        f"{CSV_PATH}?from=1.0.0&to=1.1.0&resource=sources",
        bad(
            CSV_PATH,
            (
                "resource",
                "not-comparable",
                "the rows of resource 'sources' cannot be compared: it is new in 1.1.0.",
            ),
        ),
    ),
    (
        f"{CSV_PATH}?from=1.1.1&to=2.0.0&resource=events",
        bad(
            CSV_PATH,
            (
                "resource",
                "not-comparable",
                "the rows of resource 'events' cannot be compared: it is gone from 2.0.0.",
            ),
        ),
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("url", "expected"), ERROR_CASES)
async def test_diff_errors(
    diff_client: httpx.AsyncClient, url: str, expected: tuple[int, Row]
) -> None:
    response = await diff_client.get(url)
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.status_code, response.json()) == expected


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
    source = LoadedDiffs(engine, Catalog(engine))
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
    flagship_diff_client: httpx.AsyncClient,
) -> None:
    url = f"/v1/datasets/{FLAGSHIP}/diff?from=1.0.0&to=1.1.0&_size=1000"
    body = (await flagship_diff_client.get(url)).json()
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
