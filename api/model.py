"""Frozen values that flow between layers: a loaded table and a loaded release."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

# The `format` values of a date, time or datetime field that mean ISO 8601 text.
DEFAULT_FORMATS = frozenset({None, "default", "any"})


@dataclass(frozen=True)
class FieldSpec:
    """One Table Schema field of a loaded resource."""

    name: str
    type: str
    format: str | None = None
    title: str | None = None
    description: str | None = None
    constraints: Mapping[str, Any] = field(default_factory=dict)
    descriptor: Mapping[str, Any] = field(default_factory=dict)

    @property
    def enum(self) -> list[Any] | None:
        """The allowed values, when the schema constrains them."""
        values = self.constraints.get("enum")
        return list(values) if values is not None else None

    @property
    def required(self) -> bool:
        """Whether the schema forbids missing values."""
        return bool(self.constraints.get("required"))


@dataclass(frozen=True)
class Reference:
    """The keys of a small table that a foreign-key column refers to, read once per release."""

    resource: str
    column: str
    values: frozenset[Any]


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key of a resource: its `fields` refer to `reference_fields` of `resource`.

    `target` is the referenced table (without foreign keys of its own: `_expand` follows one
    step), None when the referenced resource is not loaded with the release.
    """

    fields: tuple[str, ...]
    resource: str
    reference_fields: tuple[str, ...]
    target: TableSpec | None = None

    @property
    def expandable(self) -> bool:
        """Whether each row refers to at most one row: one field, onto a unique target field."""
        if len(self.fields) != 1 or len(self.reference_fields) != 1 or self.target is None:
            return False
        held = self.reference_fields[0]
        field = self.target.field(held)
        unique = field is not None and bool(field.constraints.get("unique"))
        return unique or self.target.primary_key == (held,)


@dataclass(frozen=True)
class Rollup:
    """The number of rows of a table for each combination of values of some of its columns.

    Built by the loader for a large table whose indexed columns take few combinations: a count
    or facet that filters on those columns alone sums `count` over the matching combinations.
    """

    table: sa.Table
    columns: frozenset[str]
    count: str

    def covers(self, names: Iterable[str]) -> bool:
        """Whether every one of these columns is a column of the rollup."""
        return self.columns.issuperset(names)


@dataclass(frozen=True)
class TableSpec:
    """A (package, version, resource) that is loaded and queryable as `table`."""

    package: str
    version: str
    resource: str
    table: sa.Table
    fields: tuple[FieldSpec, ...]
    primary_key: tuple[str, ...]
    row_count: int
    title: str | None = None
    description: str | None = None
    indexed: frozenset[str] = frozenset()  # the leading column of each index, and of the key
    indexes: tuple[tuple[str, ...], ...] = ()  # the columns of each index, in index order
    # Foreign-key columns whose referenced table is small enough to know every key of.
    references: Mapping[str, Reference] = field(default_factory=dict)
    foreign_keys: tuple[ForeignKey, ...] = ()
    rollup: Rollup | None = None

    def foreign_key(self, name: str) -> ForeignKey | None:
        """The foreign key that field `name` is part of (the one-field key first), or None."""
        holding = [key for key in self.foreign_keys if name in key.fields]
        return min(holding, key=lambda key: len(key.fields), default=None)

    def field(self, name: str) -> FieldSpec | None:
        """Return the field called `name`, or None."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @property
    def column_names(self) -> tuple[str, ...]:
        """Field names in schema order."""
        return tuple(spec.name for spec in self.fields)


@dataclass(frozen=True)
class ResourceInfo:
    """What the registry knows of one resource of a release."""

    name: str
    row_count: int
    bytes: int | None
    hash: str | None
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ReleaseInfo:
    """What the registry knows of one loaded release."""

    package: str
    version: str
    published: date | None
    loaded_at: datetime
    descriptor: Mapping[str, Any]
    resources: tuple[ResourceInfo, ...]
    changelog: str | None = None

    @property
    def title(self) -> str:
        """The package title, or its name."""
        return str(self.descriptor.get("title") or self.package)

    @property
    def licences(self) -> list[tuple[str, str | None]]:
        """Each licence as (label for people, URL): its title, else its name, else its URL."""
        found = []
        for raw in self.descriptor.get("licenses", []):
            path = str(raw.get("path") or "") or None
            label = str(raw.get("title") or raw.get("name") or path or "licence not named")
            found.append((label, path))
        return found
