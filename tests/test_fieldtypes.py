"""The field-type registry: a complete entry per Table Schema type, and no type table elsewhere."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from collections.abc import Mapping
from pathlib import Path

import frictionless
import pytest
import sqlalchemy as sa
from frictionless import fields as frictionless_fields

from api.fieldtypes import (
    ALL_TYPES,
    FIELD_TYPES,
    JSON_TYPES,
    ORDERED_TYPES,
    SCALAR_TYPES,
    SORTABLE_TYPES,
    TEXT_TYPES,
    FieldType,
    type_of,
)
from api.model import FieldSpec
from api.query.operators import operators_for

# The field types of the Table Schema specification.
SPEC_TYPES = (
    "string", "number", "integer", "boolean", "object", "array", "list", "date", "time",
    "datetime", "year", "yearmonth", "duration", "geopoint", "geojson", "any",
)  # fmt: skip
API = Path(__file__).resolve().parent.parent / "api"


def test_every_table_schema_type_has_an_entry() -> None:
    frictionless_types = {
        cls.type
        for cls in vars(frictionless_fields).values()
        if inspect.isclass(cls)
        and issubclass(cls, frictionless.Field)
        and cls is not frictionless.Field
    }
    assert set(FIELD_TYPES) == set(SPEC_TYPES) == frictionless_types == ALL_TYPES
    assert all(FIELD_TYPES[name].name == name for name in SPEC_TYPES)


@pytest.mark.parametrize("name", SPEC_TYPES)
def test_each_entry_is_complete(name: str) -> None:
    entry = FIELD_TYPES[name]
    for attribute in dataclasses.fields(FieldType):
        if attribute.name != "store":  # None there means "stored as frictionless types it"
            assert getattr(entry, attribute.name) is not None, attribute.name
    assert entry.store is None or callable(entry.store)
    assert isinstance(entry.sql, sa.types.TypeEngine)
    assert isinstance(entry.ddl, sa.types.TypeEngine)
    assert entry.cursor_types and all(isinstance(kind, type) for kind in entry.cursor_types)
    assert isinstance(entry.json_schema, Mapping)
    assert bool(entry.json_schema) == (name != "any")  # only `any` takes every JSON value
    assert entry.hint.startswith(("a ", "an ", "true"))
    assert callable(entry.csv(FieldSpec("x", name), str))
    assert operators_for(name), "every type fits at least the missing-value filters"


@pytest.mark.parametrize("name", SPEC_TYPES)
def test_the_flags_of_an_entry_agree(name: str) -> None:
    entry = FIELD_TYPES[name]
    # A JSON document has no order in SQL that matches its value's: it cannot be sorted or keyed.
    assert entry.sortable is not entry.json_document
    assert not (entry.ordered or entry.text) or entry.sortable
    assert not (entry.verbatim and entry.json_document)


def test_the_type_sets_are_read_from_the_entries() -> None:
    assert JSON_TYPES == {n for n, e in FIELD_TYPES.items() if e.json_document}
    assert SCALAR_TYPES == ALL_TYPES - JSON_TYPES == SORTABLE_TYPES
    assert ORDERED_TYPES == {n for n, e in FIELD_TYPES.items() if e.ordered}
    assert TEXT_TYPES == {n for n, e in FIELD_TYPES.items() if e.text}


def test_an_unknown_type_is_text_that_fits_no_filter_or_sort() -> None:
    entry = type_of("colour")
    assert entry.name == "colour" and entry.hint == "a valid colour"
    assert entry.store is None and entry.cursor_types == (str,) and not entry.json_schema
    assert not (entry.sortable or entry.ordered or entry.text or entry.verbatim)
    assert "colour" not in ALL_TYPES | JSON_TYPES | SORTABLE_TYPES
    assert operators_for("colour") == []


# Names only a table of types would spell out (`duration` could be a log or metric key).
TYPE_ONLY_NAMES = {"yearmonth", "geopoint", "geojson"}


def test_no_module_but_the_registry_keeps_a_table_of_types() -> None:
    found = []
    for path in sorted(API.rglob("*.py")):
        if path.name == "fieldtypes.py" and path.parent == API:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in TYPE_ONLY_NAMES:
                found.append(f"{path.relative_to(API)}:{node.lineno}: {node.value!r}")
    assert found == []
