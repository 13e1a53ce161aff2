"""Schema diffs of releases: each change and the bump it needs, declared bumps, summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from api.diff.release import diff_releases
from api.diff.rows import tally
from api.diff.schema import (
    Bump,
    constraint_change,
    declared_bump,
    diff_schemas,
    next_version,
    parse_bump,
)
from api.diff.shapes import ReleaseShape, ResourcePair, ResourceShape, release_shape

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
