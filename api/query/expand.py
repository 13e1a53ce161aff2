"""`_expand`: rows that carry the row each of their foreign keys refers to.

`_expand=report_id` (repeatable, comma-separated) follows the one-field foreign key of
`report_id` and adds the columns of the referenced row, named `report_id.title` and so on.
`_col` and `_nocol` choose among them by that dotted name: `_col=report_id.title` returns the
title alone of the referenced row, and leaves the table's own columns as they were (they are
chosen by their own names). A name that is a column of the table itself always means that
column. Filters and sorts apply to the table's own columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from api.errors import ParamError, quoted
from api.model import ForeignKey, TableSpec


@dataclass(frozen=True, eq=False)
class Expansion:
    """One followed foreign key: `column` refers to `key` of `target`; `columns` are returned."""

    column: str
    target: TableSpec
    key: str
    columns: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The output names of the referenced columns: `column.referenced`."""
        return tuple(f"{self.column}.{name}" for name in self.columns)


@dataclass
class ExpandRead:
    """What reading `_expand` leaves: the expansions, the plain `_col`/`_nocol` names, problems."""

    expansions: tuple[Expansion, ...] = ()
    chosen: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    errors: list[ParamError] = field(default_factory=list)


def expandable(spec: TableSpec) -> list[str]:
    """The fields of a table that `_expand` can follow, in schema order."""
    keys = {key.fields[0] for key in spec.foreign_keys if key.expandable}
    return [name for name in spec.column_names if name in keys]


def _split(spec: TableSpec, value: str) -> list[str]:
    # A whole value naming a column wins, so a column whose name holds a comma stays reachable.
    return [value] if spec.field(value) is not None else value.split(",")


def _refusal(spec: TableSpec, name: str, key: ForeignKey | None) -> tuple[str, str]:
    """The (code, message) of a column `_expand` cannot follow."""
    fits = ", ".join(expandable(spec)) or "none"
    which = f"the columns that can be expanded are: {fits}."
    if spec.field(name) is None:
        known = ", ".join(spec.column_names)
        message = f"No column {quoted(name)} in this table; the columns are: {known}."
        return "unknown-column", message
    if key is None:
        return "not-a-foreign-key", f"Column {quoted(name)} holds no foreign key; {which}"
    if len(key.fields) != 1 or len(key.reference_fields) != 1:
        fields = ", ".join(key.fields)
        return (
            "not-expandable",
            f"Column {quoted(name)} is part of a foreign key of several fields ({fields}); "
            f"only a one-field key can be expanded; {which}",
        )
    if key.target is None:
        return (
            "not-expandable",
            f"Column {quoted(name)} refers to {quoted(key.resource)}, which this release does "
            f"not serve; {which}",
        )
    return (
        "not-expandable",
        f"Column {quoted(name)} refers to {quoted(key.reference_fields[0])} of "
        f"{quoted(key.resource)}, which is not unique there, so a row may refer to several "
        f"rows; {which}",
    )


def _followed(spec: TableSpec, values: Iterable[str], errors: list[ParamError]) -> list[str]:
    """The fields `_expand` names, each once, in the order given; problems recorded."""
    names: list[str] = []
    for value in values:
        for name in _split(spec, value):
            key = spec.foreign_key(name)
            if key is None or not key.expandable:
                errors.append(ParamError("_expand", *_refusal(spec, name, key)))
            elif name not in names:
                names.append(name)
    return names


def _holder(spec: TableSpec, name: str) -> str | None:
    """The foreign-key field a dotted name `field.column` starts with (the longest), or None."""
    found = [
        held
        for key in spec.foreign_keys
        for held in key.fields[:1]
        if len(key.fields) == 1 and name.startswith(f"{held}.")
    ]
    return max(found, key=len, default=None)


def _split_referenced(spec: TableSpec, value: str, followed: dict[str, TableSpec]) -> list[str]:
    """The names in one `_col` value: a whole value naming a column, of either table, wins."""
    held = _holder(spec, value)
    target = followed.get(held) if held is not None else None
    whole = spec.field(value) is not None or (
        held is not None and target is not None and target.field(value[len(held) + 1 :])
    )
    return [value] if whole else value.split(",")


def _referenced(
    spec: TableSpec,
    param: str,
    values: Iterable[str],
    followed: dict[str, TableSpec],
    errors: list[ParamError],
) -> tuple[list[str], dict[str, list[str]]]:
    """Split the names of `_col` or `_nocol` into the table's own and each expansion's."""
    own: list[str] = []
    referenced: dict[str, list[str]] = {}
    for value in values:
        for name in _split_referenced(spec, value, followed):
            held = _holder(spec, name) if spec.field(name) is None else None
            if held is None:
                own.append(name)
                continue
            column = name[len(held) + 1 :]
            target = followed.get(held)
            if target is None:
                message = (
                    f"{quoted(name)} is a column of the row {quoted(held)} refers to; "
                    f"add _expand={held} to return it."
                )
                errors.append(ParamError(param, "not-expanded", message))
            elif target.field(column) is None:
                known = ", ".join(target.column_names)
                message = (
                    f"No column {quoted(column)} in {quoted(target.resource)}, which "
                    f"{quoted(held)} refers to; its columns are: {known}."
                )
                errors.append(ParamError(param, "unknown-column", message))
            else:
                referenced.setdefault(held, []).append(column)
    return own, referenced


def read_expand(
    spec: TableSpec, expand: Sequence[str], chosen: Sequence[str], dropped: Sequence[str]
) -> ExpandRead:
    """Read `_expand` and the dotted names of `_col` and `_nocol`; the plain names are left."""
    read = ExpandRead()
    names = _followed(spec, expand, read.errors)
    targets: dict[str, tuple[TableSpec, str]] = {}
    for name in names:
        key = spec.foreign_key(name)
        assert key is not None and key.target is not None  # `_followed` kept expandable ones
        targets[name] = (key.target, key.reference_fields[0])
    followed = {name: target for name, (target, _) in targets.items()}
    read.chosen, keep = _referenced(spec, "_col", chosen, followed, read.errors)
    read.dropped, drop = _referenced(spec, "_nocol", dropped, followed, read.errors)
    expansions = []
    for name, (target, referenced_key) in targets.items():
        wanted = set(keep.get(name) or target.column_names) - set(drop.get(name, ()))
        columns = tuple(c for c in target.column_names if c in wanted)
        expansion = Expansion(name, target, referenced_key, columns)
        if not columns:
            message = f"No columns of {quoted(target.resource)} are left to return for {name}."
            read.errors.append(ParamError("_nocol", "invalid-control", message))
        clashes = [n for n in expansion.names if spec.field(n) is not None]
        if clashes:
            message = (
                f"The expanded column {quoted(clashes[0])} has the name of a column of this "
                "table; choose the referenced columns to return with _col."
            )
            read.errors.append(ParamError("_expand", "column-name-clash", message))
        expansions.append(expansion)
    read.expansions = tuple(expansions)
    return read
