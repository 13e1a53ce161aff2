"""What of a release takes part in a diff: resources, their fields and keys, and metadata."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.fieldtypes import JSON_TYPES

Descriptor = Mapping[str, Any]


def show_value(value: Any) -> str:
    """A value as a message shows it: text as is, others as JSON, missing as `unset`."""
    if value is None:
        return "unset"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


PACKAGE_RELEASE_KEYS = frozenset({"name", "version", "created", "resources"})
"""Package properties that change with every release and are not edits."""
RESOURCE_DATA_KEYS = frozenset({"name", "schema", "bytes", "hash", "data"})
"""Resource properties that describe the data itself; the row diff judges the data."""
FIELD_SHAPE_KEYS = frozenset({"name", "type", "format", "constraints"})
SCHEMA_SHAPE_KEYS = frozenset({"fields", "primaryKey", "foreignKeys"})


@dataclass(frozen=True)
class ResourceShape:
    """A resource as the schema diff sees it."""

    name: str
    fields: tuple[Descriptor, ...] = ()
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[Descriptor, ...] = ()
    schema_metadata: Descriptor = dataclasses.field(default_factory=dict)
    metadata: Descriptor = dataclasses.field(default_factory=dict)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Field names in schema order."""
        return tuple(str(f["name"]) for f in self.fields)

    def field(self, name: str) -> Descriptor | None:
        """The descriptor of the field called `name`, or None."""
        return next((f for f in self.fields if f["name"] == name), None)


@dataclass(frozen=True)
class ReleaseShape:
    """A release as the schema diff sees it."""

    version: str
    resources: tuple[ResourceShape, ...] = ()
    metadata: Descriptor = dataclasses.field(default_factory=dict)

    def resource(self, name: str) -> ResourceShape | None:
        """The resource called `name`, or None."""
        return next((r for r in self.resources if r.name == name), None)


def field_type(descriptor: Descriptor | None) -> str:
    """A field's type, with its format when it is not the default: `date (%d/%m/%Y)`."""
    if descriptor is None:
        return "missing"
    kind = str(descriptor.get("type") or "any")
    fmt = descriptor.get("format")
    return kind if fmt in (None, "default") else f"{kind} ({fmt})"


def resource_shape(descriptor: Descriptor, schema: Descriptor | None = None) -> ResourceShape:
    """Shape of a resource descriptor; `schema` stands in for a schema given by reference."""
    found = schema if schema is not None else descriptor.get("schema")
    table: Descriptor = found if isinstance(found, Mapping) else {}
    fields = tuple(
        f
        for f in table.get("fields") or ()
        if isinstance(f, Mapping) and isinstance(f.get("name"), str)
    )
    key = table.get("primaryKey") or ()
    return ResourceShape(
        name=str(descriptor.get("name")),
        fields=fields,
        primary_key=(key,) if isinstance(key, str) else tuple(str(k) for k in key),
        foreign_keys=tuple(table.get("foreignKeys") or ()),
        schema_metadata={k: v for k, v in table.items() if k not in SCHEMA_SHAPE_KEYS},
        metadata={k: v for k, v in descriptor.items() if k not in RESOURCE_DATA_KEYS},
    )


def release_shape(
    descriptor: Descriptor, schemas: Mapping[str, Descriptor] | None = None
) -> ReleaseShape:
    """Shape of a package descriptor; `schemas` maps resource names to resolved schemas."""
    resolved = schemas or {}
    resources = [r for r in descriptor.get("resources") or () if isinstance(r, Mapping)]
    return ReleaseShape(
        version=str(descriptor.get("version", "")),
        resources=tuple(resource_shape(r, resolved.get(str(r.get("name")))) for r in resources),
        metadata={k: v for k, v in descriptor.items() if k not in PACKAGE_RELEASE_KEYS},
    )


# Pairs: one resource in both releases ----------------------------------------------------------

ADDED, REMOVED, COMPARED, NOT_COMPARABLE = "added", "removed", "compared", "not_comparable"


@dataclass(frozen=True)
class ResourcePair:
    """A resource name with its shape in each release (None where it is absent)."""

    name: str
    before: ResourceShape | None
    after: ResourceShape | None

    @property
    def reason(self) -> str | None:
        """Why the rows of a resource in both releases cannot be matched by key, if they cannot."""
        before, after = self.before, self.after
        if before is None or after is None:
            return None
        if not after.primary_key:
            return "it has no primary key"
        if before.primary_key != after.primary_key:
            return (
                f"its primary key changed from {show_value(list(before.primary_key))}"
                f" to {show_value(list(after.primary_key))}"
            )
        for name in after.primary_key:
            old, new = field_type(before.field(name)), field_type(after.field(name))
            if old != new:
                return f"primary key field '{name}' changed type from {old} to {new}"
            if new in JSON_TYPES:
                # Stored as JSON text, such keys sort in SQL unlike their values in Python.
                return f"primary key field '{name}' is a {new}, which has no order to match by"
        return None

    @property
    def status(self) -> str:
        """`added`, `removed`, `compared` or `not_comparable`."""
        if self.before is None:
            return ADDED
        if self.after is None:
            return REMOVED
        return NOT_COMPARABLE if self.reason else COMPARED

    @property
    def key(self) -> tuple[str, ...]:
        """The primary key the rows are matched by (empty unless compared)."""
        return self.after.primary_key if self.after and self.status == COMPARED else ()

    @property
    def compared_fields(self) -> tuple[str, ...]:
        """Fields in both releases with the same type, newer order; empty unless compared."""
        if self.before is None or self.after is None or self.status != COMPARED:
            return ()
        before = self.before
        return tuple(
            name
            for name in self.after.field_names
            if before.field(name) is not None
            and field_type(before.field(name)) == field_type(self.after.field(name))
        )

    @property
    def value_fields(self) -> tuple[str, ...]:
        """Compared fields outside the primary key."""
        return tuple(name for name in self.compared_fields if name not in self.key)


def pair_resources(before: ReleaseShape, after: ReleaseShape) -> list[ResourcePair]:
    """Resources of the newer release in order, then those only the older one has."""
    pairs = [ResourcePair(r.name, before.resource(r.name), r) for r in after.resources]
    pairs += [ResourcePair(r.name, r, None) for r in before.resources if not after.resource(r.name)]
    return pairs
