"""The schema diff of two releases and the SemVer bump each change calls for.

Bumps follow the Data Package Version recipe as DESIGN.md states it: MAJOR for a resource or field
removed (a rename is a removal plus an addition), a field retyped, fields reordered, a tighter
constraint or a new primary key; MINOR for resources or fields added and for a looser constraint
(the recipe's own example of a minor change); PATCH for metadata edits. Rows added call for MINOR,
rows removed or corrected for PATCH (see `api.diff.ROW_BUMPS`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from api.diff.shapes import (
    FIELD_SHAPE_KEYS,
    Descriptor,
    ReleaseShape,
    ResourceShape,
    field_type,
    pair_resources,
    show_value,
)
from api.semver import parse_semver


class Bump(IntEnum):
    """The part of a SemVer version a change calls for; a larger bump covers a smaller one."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def label(self) -> str:
        """`none`, `patch`, `minor` or `major`."""
        return self.name.lower()


def parse_bump(text: str) -> Bump:
    """Read `major`, `minor` or `patch` (any case); ValueError otherwise."""
    try:
        return Bump[text.upper()]
    except KeyError:
        raise ValueError(f"{text!r} is not one of major, minor, patch") from None


# Versions --------------------------------------------------------------------------------------


def _core(version: str) -> tuple[int, int, int] | None:
    parsed = parse_semver(version)
    return None if parsed is None else (parsed.major, parsed.minor, parsed.patch)


def _target(core: tuple[int, int, int]) -> Bump:
    """The bump a version names as its goal: `1.1.0` is a minor release, `2.0.0` a major one."""
    major, minor, patch = core
    return Bump.PATCH if patch else Bump.MINOR if minor else Bump.MAJOR


def declared_bump(from_version: str, to_version: str) -> Bump | None:
    """The bump that going from one version to the other declares; None when it goes backwards.

    Precedence is SemVer's: `2.0.0-rc.1` comes before `2.0.0`. From a pre-release to its own
    release (or to a later pre-release of it) the declared bump is the one the version aims at,
    as measured from the release before the pre-releases: `1.1.0-rc.1` to `1.1.0` is minor.
    """
    before, after = parse_semver(from_version), parse_semver(to_version)
    if before is None or after is None or after < before:
        return None
    old = (before.major, before.minor, before.patch)
    new = (after.major, after.minor, after.patch)
    if old == new:
        return _target(new) if before.is_prerelease and after != before else Bump.NONE
    for bump, old_part, new_part in zip(
        (Bump.MAJOR, Bump.MINOR, Bump.PATCH), old, new, strict=True
    ):
        if new_part != old_part:
            return bump
    return Bump.NONE


def next_version(version: str, bump: Bump) -> str:
    """The version after `version` under `bump` (`1.2.3` + minor is `1.3.0`)."""
    core = _core(version)
    if core is None:
        raise ValueError(f"{version!r} is not a SemVer version")
    major, minor, patch = core
    if bump is Bump.MAJOR:
        return f"{major + 1}.0.0"
    if bump is Bump.MINOR:
        return f"{major}.{minor + 1}.0"
    if bump is Bump.PATCH:
        return f"{major}.{minor}.{patch + 1}"
    raise ValueError("a new release needs a major, minor or patch bump")


# Changes ---------------------------------------------------------------------------------------

METADATA_CHANGED = "metadata_changed"


@dataclass(frozen=True)
class ChangeKind:
    """One kind of schema change: the bump it calls for and how to say it."""

    bump: Bump
    template: str


CHANGES: dict[str, ChangeKind] = {
    "resource_added": ChangeKind(Bump.MINOR, "resource '{resource}' added"),
    "resource_removed": ChangeKind(Bump.MAJOR, "resource '{resource}' removed"),
    "primary_key_changed": ChangeKind(
        Bump.MAJOR, "primary key of resource '{resource}' changed from {before} to {after}"
    ),
    "field_added": ChangeKind(Bump.MINOR, "field '{field}' added to resource '{resource}'"),
    "field_removed": ChangeKind(Bump.MAJOR, "field '{field}' removed from resource '{resource}'"),
    "field_retyped": ChangeKind(
        Bump.MAJOR, "field '{field}' of resource '{resource}' retyped from {before} to {after}"
    ),
    "fields_reordered": ChangeKind(Bump.MAJOR, "fields of resource '{resource}' reordered"),
    "constraint_tightened": ChangeKind(
        Bump.MAJOR, "constraint '{detail}' of {where} tightened from {before} to {after}"
    ),
    "constraint_loosened": ChangeKind(
        Bump.MINOR, "constraint '{detail}' of {where} loosened from {before} to {after}"
    ),
    METADATA_CHANGED: ChangeKind(Bump.PATCH, "'{detail}' of {where} edited"),
}
"""Every kind of schema change, with its bump and its message template."""


@dataclass(frozen=True)
class SchemaChange:
    """One difference between the schemas or metadata of two releases."""

    change: str
    resource: str | None = None
    field: str | None = None
    detail: str | None = None  # the constraint or metadata property concerned
    before: Any = None
    after: Any = None

    @property
    def bump(self) -> Bump:
        """The bump this change calls for."""
        return CHANGES[self.change].bump

    @property
    def message(self) -> str:
        """The change in one phrase, e.g. `field 'value' removed from resource 'figures'`."""
        if self.field is not None:
            where = f"field '{self.field}' of resource '{self.resource}'"
        elif self.resource is not None:
            where = f"resource '{self.resource}'"
        else:
            where = "the package"
        return CHANGES[self.change].template.format(
            resource=self.resource,
            field=self.field,
            detail=self.detail,
            where=where,
            before=show_value(self.before),
            after=show_value(self.after),
        )

    def as_dict(self) -> dict[str, Any]:
        """The change as a JSON object."""
        return {
            "change": self.change,
            "resource": self.resource,
            "field": self.field,
            "property": self.detail,
            "from": self.before,
            "to": self.after,
            "bump": self.bump.label,
            "message": self.message,
        }


# Constraints: is the new value tighter or looser? ----------------------------------------------

TIGHTENED, LOOSENED = "constraint_tightened", "constraint_loosened"
Verdict = Callable[[Any, Any], str | None]


def _flag(before: Any, after: Any) -> str | None:
    if bool(before) == bool(after):
        return None
    return TIGHTENED if after else LOOSENED


def _ordered(before: Any, after: Any, *, tighter_when_higher: bool) -> str:
    if before is None:
        return TIGHTENED
    if after is None:
        return LOOSENED
    try:
        higher = bool(after > before)
    except TypeError:
        return TIGHTENED
    return TIGHTENED if higher == tighter_when_higher else LOOSENED


def _lower_bound(before: Any, after: Any) -> str:
    return _ordered(before, after, tighter_when_higher=True)


def _upper_bound(before: Any, after: Any) -> str:
    return _ordered(before, after, tighter_when_higher=False)


def _allowed_values(before: Any, after: Any) -> str:
    if before is None:
        return TIGHTENED
    if after is None:
        return LOOSENED
    return TIGHTENED if any(value not in after for value in before) else LOOSENED


def _replaced(before: Any, after: Any) -> str:
    if before is None:
        return TIGHTENED
    return LOOSENED if after is None else TIGHTENED


def _references(before: Any, after: Any) -> str:
    return TIGHTENED if any(ref not in (before or ()) for ref in after or ()) else LOOSENED


CONSTRAINT_RULES: dict[str, Verdict] = {
    "required": _flag,
    "unique": _flag,
    "minimum": _lower_bound,
    "exclusiveMinimum": _lower_bound,
    "minLength": _lower_bound,
    "maximum": _upper_bound,
    "exclusiveMaximum": _upper_bound,
    "maxLength": _upper_bound,
    "enum": _allowed_values,
    "pattern": _replaced,
}
"""How each Table Schema constraint is judged; any other constraint that changes is tighter."""


def constraint_change(name: str, before: Any, after: Any) -> str | None:
    """`constraint_tightened`, `constraint_loosened` or None when the constraint is unchanged."""
    if before == after:
        return None
    return CONSTRAINT_RULES.get(name, _replaced)(before, after)


def _union(before: Descriptor, after: Descriptor) -> list[str]:
    return [*before, *(k for k in after if k not in before)]


def _metadata(
    before: Descriptor, after: Descriptor, resource: str | None, field_name: str | None = None
) -> Iterator[SchemaChange]:
    for key in _union(before, after):
        if before.get(key) != after.get(key):
            yield SchemaChange(
                METADATA_CHANGED, resource, field_name, key, before.get(key), after.get(key)
            )


def _field_changes(resource: str, before: Descriptor, after: Descriptor) -> Iterator[SchemaChange]:
    name = str(after["name"])
    if field_type(before) != field_type(after):
        yield SchemaChange(
            "field_retyped", resource, name, None, field_type(before), field_type(after)
        )
    old, new = before.get("constraints") or {}, after.get("constraints") or {}
    for key in _union(old, new):
        verdict = constraint_change(key, old.get(key), new.get(key))
        if verdict is not None:
            yield SchemaChange(verdict, resource, name, key, old.get(key), new.get(key))
    yield from _metadata(
        {k: v for k, v in before.items() if k not in FIELD_SHAPE_KEYS},
        {k: v for k, v in after.items() if k not in FIELD_SHAPE_KEYS},
        resource,
        name,
    )


def _resource_changes(before: ResourceShape, after: ResourceShape) -> Iterator[SchemaChange]:
    name = after.name
    if before.primary_key != after.primary_key:
        yield SchemaChange(
            "primary_key_changed",
            name,
            before=list(before.primary_key),
            after=list(after.primary_key),
        )
    for gone in (f for f in before.field_names if after.field(f) is None):
        yield SchemaChange("field_removed", name, gone)
    for added in (f for f in after.field_names if before.field(f) is None):
        yield SchemaChange("field_added", name, added)
    old_order = [f for f in before.field_names if after.field(f) is not None]
    new_order = [f for f in after.field_names if before.field(f) is not None]
    if old_order != new_order:
        yield SchemaChange("fields_reordered", name, before=old_order, after=new_order)
    for field_name in new_order:
        old_field, new_field = before.field(field_name), after.field(field_name)
        assert old_field is not None and new_field is not None
        yield from _field_changes(name, old_field, new_field)
    old_keys, new_keys = list(before.foreign_keys) or None, list(after.foreign_keys) or None
    if old_keys != new_keys:
        verdict = _references(old_keys, new_keys)
        yield SchemaChange(verdict, name, None, "foreignKeys", old_keys, new_keys)
    yield from _metadata(
        {f"schema.{k}": v for k, v in before.schema_metadata.items()},
        {f"schema.{k}": v for k, v in after.schema_metadata.items()},
        name,
    )
    yield from _metadata(before.metadata, after.metadata, name)


def diff_schemas(before: ReleaseShape, after: ReleaseShape) -> list[SchemaChange]:
    """Every schema and metadata change from one release to the other, package first."""
    changes = list(_metadata(before.metadata, after.metadata, None))
    for pair in pair_resources(before, after):
        if pair.before is None:
            changes.append(SchemaChange("resource_added", pair.name))
        elif pair.after is None:
            changes.append(SchemaChange("resource_removed", pair.name))
        else:
            changes.extend(_resource_changes(pair.before, pair.after))
    return changes
