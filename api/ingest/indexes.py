"""Extra indexes a package declares for the filters its users run (`x-indexes`).

A table resource, or its schema, may list indexes as lists of field names, in index order:
`"x-indexes": [["province", "reported_on"]]`. Validation refuses a declaration that is not such a
list or names a field the schema does not have; the loader builds each index after the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import frictionless
import sqlalchemy as sa
from frictionless import errors

INDEXES_KEY = "x-indexes"


@attrs.define(kw_only=True, repr=False)
class IndexDeclarationError(errors.PackageError):
    """An `x-indexes` declaration that is not a list of lists of the table's field names."""

    type = "index-declaration-error"
    title = "Index Declaration Error"
    description = '"x-indexes" is a list of indexes, each a list of field names of the table.'
    template = "An index declaration is not valid: {note}"


def _declarations(*owners: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """(where, declaration) for each owner (resource, schema) that declares `x-indexes`."""
    found = []
    for where, owner in zip(("resource", "schema"), owners, strict=False):
        if owner is not None and INDEXES_KEY in owner:
            found.append((where, owner[INDEXES_KEY]))
    return found


def _entry_problem(entry: Any, fields: list[str]) -> str | None:
    """What is wrong with one declared index, or None."""
    if isinstance(entry, str):
        entry = [entry]
    if not isinstance(entry, list) or not entry or not all(isinstance(n, str) for n in entry):
        return f"{entry!r} is not a list of field names"
    unknown = [name for name in entry if name not in fields]
    if unknown:
        known = ", ".join(f'"{name}"' for name in fields)
        missing = ", ".join(f'"{name}"' for name in unknown)
        noun = "is not a field" if len(unknown) == 1 else "are not fields"
        return f"{missing} {noun} of the table (fields: {known})"
    if len(set(entry)) != len(entry):
        return f"{entry!r} names a field twice"
    return None


def index_declaration_errors(
    resource: Mapping[str, Any], schema: Mapping[str, Any] | None, label: str
) -> Iterable[IndexDeclarationError]:
    """Every problem of the `x-indexes` of a table resource and of its schema."""
    raw_fields = schema.get("fields") if schema is not None else None
    fields = [
        f["name"]
        for f in (raw_fields if isinstance(raw_fields, list) else [])
        if isinstance(f, Mapping) and isinstance(f.get("name"), str)
    ]
    for where, declared in _declarations(resource, schema):
        place = f'"{INDEXES_KEY}" of {label}' + (" schema" if where == "schema" else "")
        if not isinstance(declared, list):
            yield IndexDeclarationError(note=f"{place} is not a list of indexes")
            continue
        for position, entry in enumerate(declared):
            problem = _entry_problem(entry, fields)
            if problem is not None:
                yield IndexDeclarationError(note=f"{place}, index {position}: {problem}")


def declared_indexes(resource: frictionless.Resource) -> list[tuple[str, ...]]:
    """The column lists of the indexes a (validated) resource and its schema declare."""
    owners = (resource.custom, resource.schema.custom)
    indexes: list[tuple[str, ...]] = []
    for _where, declared in _declarations(*owners):
        for entry in declared:
            columns = (entry,) if isinstance(entry, str) else tuple(entry)
            if columns not in indexes:
                indexes.append(columns)
    return indexes


def create_declared_indexes(
    connection: sa.Connection, table: sa.Table, resource: frictionless.Resource
) -> int:
    """Build the declared indexes of a loaded table (after its rows); return how many."""
    indexes = declared_indexes(resource)
    for position, columns in enumerate(indexes):
        index = sa.Index(f"ix_{table.name}_x{position}", *(table.c[c] for c in columns))
        index.create(connection)
    return len(indexes)
