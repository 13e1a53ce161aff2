"""The rows query grammar: operators and controls as registries, parsed into a RowQuery.

Data filters are `column__op=value` (`column=value` means `exact`); controls start with `_`.
Every value is read with its field's own frictionless value reader, so a filter accepts exactly
the values validation accepts. Every problem in a query string is collected and reported at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from api.errors import BadQuery, NotFound, quoted
from api.fieldtypes import JSON_TYPES, SORTABLE_TYPES
from api.model import FieldSpec, TableSpec
from api.query.controls import duplicate_error, read_size
from api.query.cursor import CURSOR_PARAM, SortKey, decode_cursor
from api.query.expand import Expansion, read_expand
from api.query.operators import CONTROLS, OPERATORS, Operator, operators_for
from api.query.values import (
    FLAGS,
    FieldReader,
    Problem,
    QueryParser,
    split_names,
    unknown_column,
)


@dataclass(frozen=True)
class Filter:
    """One data filter: a column, an operator key and its value in stored form.

    The value is one value (`single`), a tuple of values (`list`), a `(low, high)` pair with
    None for an open end (`range`), a bool (`flag`) or the text as given (`text`).
    """

    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class RowQuery:
    """A validated rows query, ready to be turned into SQL."""

    filters: tuple[Filter, ...]
    sort: tuple[SortKey, ...]
    columns: tuple[str, ...]
    size: int
    after: tuple[Any, ...] | None = None
    count: str = "bounded"  # one of COUNT_MODES: how hard to count the matching rows
    facets: tuple[str, ...] = ()
    bom: bool = False
    delimiter: str = ","
    download: bool = False
    expand: tuple[Expansion, ...] = ()  # foreign keys followed, in the order `_expand` names them

    @property
    def output_columns(self) -> tuple[str, ...]:
        """Every column returned, flat: the table's own, then each expanded `field.column`."""
        return self.columns + tuple(name for step in self.expand for name in step.names)

    @cached_property
    def filters_key(self) -> tuple[tuple[str, str, str], ...]:
        """The filters in a canonical, hashable form: what a count or a facet depends on."""
        return tuple(sorted((f.column, f.op, repr(f.value)) for f in self.filters))


COUNT_MODES: dict[str, str] = {"bounded": "bounded", "exact": "exact", "none": "none"}
DELIMITERS: dict[str, str] = {",": ",", ";": ";", "\t": "\t", "\\t": "\t", "tab": "\t"}
MAX_FACETS = 5  # `_facet` columns of one page unless the caller says otherwise


def _filter_target(spec: TableSpec, key: str) -> tuple[FieldSpec, Operator]:
    """Return the field and operator a filter parameter names."""
    field = spec.field(key)
    if field is not None and not key.startswith("_"):
        return field, OPERATORS["exact"]
    column, sep, op = key.rpartition("__")
    field = spec.field(column) if sep else None
    if sep and op in OPERATORS:
        if field is None:
            raise unknown_column(spec, column)
        return field, OPERATORS[op]
    if field is not None:
        raise Problem(
            "unknown-operator",
            f"No operator {quoted(op)}; the operators are: {', '.join(OPERATORS)}.",
        )
    if key.startswith("_"):
        raise Problem(
            "unknown-parameter",
            f"No control parameter {quoted(key)}; the controls are: {', '.join(CONTROLS)}.",
        )
    raise unknown_column(spec, key)


def _parse_filter(parser: QueryParser, key: str, text: str) -> Filter:
    field, op = _filter_target(parser.spec, key)
    if field.type not in op.types:
        fits = ", ".join(operators_for(field.type))
        raise Problem(
            "operator-not-for-type",
            f"Operator {quoted(op.key)} does not apply to column "
            f"{quoted(field.name)} of type {field.type}; its operators are: {fits}.",
        )
    return Filter(field.name, op.key, parser.value(field, op, text))


def _parse_sort(parser: QueryParser, values: list[str]) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for value in values:
        for item in split_names(parser.spec, value):
            name = item.removeprefix("-")
            try:
                field = parser.field(name)
                if field.type not in SORTABLE_TYPES:
                    raise Problem(
                        "invalid-control",
                        f"Column {quoted(name)} of type {field.type} cannot be sorted.",
                    )
                if any(key.column == name for key in keys):
                    raise Problem("invalid-control", f"Column {quoted(name)} is sorted twice.")
                keys.append(SortKey(name, item.startswith("-")))
            except Problem as problem:
                parser.record("_sort", problem)
    return tuple(keys) + _tie_break(parser.spec, keys)


def _tie_break(spec: TableSpec, keys: Sequence[SortKey]) -> tuple[SortKey, ...]:
    """Primary key columns not yet sorted on; without a key, every sortable column."""
    taken = {key.column for key in keys}
    names = spec.primary_key or tuple(f.name for f in spec.fields if f.type in SORTABLE_TYPES)
    return tuple(SortKey(name) for name in names if name not in taken)


def _parse_columns(
    parser: QueryParser, chosen: list[str], dropped: list[str], *, expanded: bool = False
) -> tuple[str, ...]:
    known = len(parser.errors)
    keep = set(parser.names("_col", chosen)) if chosen else set(parser.spec.column_names)
    keep -= set(parser.names("_nocol", dropped))
    columns = tuple(name for name in parser.spec.column_names if name in keep)
    if not columns and not expanded and len(parser.errors) == known:
        parser.record(
            "_nocol" if dropped else "_col",
            Problem("invalid-control", "No columns are left to return."),
        )
    return columns


def _parse_facets(parser: QueryParser, values: list[str], max_facets: int) -> tuple[str, ...]:
    facets = []
    names = dict.fromkeys(parser.names("_facet", values))
    if len(names) > max_facets:
        # Each facet is one more query under the time limit: their number is bounded too.
        parser.record(
            "_facet",
            Problem(
                "too-many-facets",
                f"{len(names)} columns are faceted; at most {max_facets} may be.",
            ),
        )
    for name in names:
        field_type = parser.field(name).type
        if field_type in JSON_TYPES:
            parser.record(
                "_facet",
                Problem(
                    "invalid-control",
                    f"Column {quoted(name)} of type {field_type} cannot be faceted.",
                ),
            )
        else:
            facets.append(name)
    return tuple(facets)


def _choice(key: str, table: dict[str, Any]) -> Callable[[str], Any]:
    def choose(text: str) -> Any:
        if text.lower() in table:
            return table[text.lower()]
        allowed = ", ".join(quoted(k) for k in table)
        raise Problem("invalid-control", f"{key} takes one of {allowed}; got {quoted(text)}.")

    return choose


def parse_row_query(
    spec: TableSpec,
    params: Sequence[tuple[str, str]],
    *,
    default_size: int,
    max_size: int,
    fmt: str = "json",
    max_facets: int = MAX_FACETS,
) -> RowQuery:
    """Read a rows query string for a response in `fmt`; raise BadQuery listing every problem.

    A control that does not apply to `fmt` (`_size` on a CSV download, `_bom` on JSON) is a
    problem too: it would otherwise be ignored without a word.
    """
    parser = QueryParser(spec)
    filters: list[Filter] = []
    given: dict[str, list[str]] = {key: [] for key in CONTROLS}
    for key, text in params:
        if key in CONTROLS:
            given[key].append(text)
            continue
        try:
            filters.append(_parse_filter(parser, key, text))
        except Problem as problem:
            parser.record(key, problem)
    for key, control in CONTROLS.items():
        if given[key] and control.formats is not None and fmt not in control.formats:
            applies = " or ".join(sorted(f.upper() for f in control.formats))
            parser.record(
                key,
                Problem(
                    "not-for-format",
                    f"{key} applies to {applies} responses only, not to {fmt.upper()}.",
                ),
            )
        if len(given[key]) > 1 and not control.repeatable:
            parser.errors.append(duplicate_error(key, len(given[key])))
    expand = read_expand(spec, given["_expand"], given["_col"], given["_nocol"])
    parser.errors.extend(expand.errors)
    sort = _parse_sort(parser, given["_sort"])
    sort_ok = not any(e.param == "_sort" for e in parser.errors)
    singles: dict[str, tuple[Callable[[str], Any], Any]] = {
        "_size": (lambda text: read_size(text, max_size=max_size, low=0), default_size),
        "_count": (_choice("_count", COUNT_MODES), "bounded"),
        "_bom": (_choice("_bom", FLAGS), False),
        "_delimiter": (_choice("_delimiter", DELIMITERS), ","),
        "_dl": (_choice("_dl", FLAGS), False),
        CURSOR_PARAM: (lambda text: decode_cursor(text, spec, sort) if sort_ok else None, None),
    }
    chosen = {}
    for key, (read, default) in singles.items():
        chosen[key] = default
        if given[key]:
            try:
                chosen[key] = read(given[key][0])
            except Problem as problem:
                parser.record(key, problem)
            except BadQuery as problem:
                parser.errors.extend(problem.errors)
    query = RowQuery(
        filters=tuple(filters),
        sort=sort,
        columns=_parse_columns(
            parser, expand.chosen, expand.dropped, expanded=bool(expand.expansions)
        ),
        size=chosen["_size"],
        after=chosen[CURSOR_PARAM],
        count=chosen["_count"],
        facets=_parse_facets(parser, given["_facet"], max_facets),
        bom=chosen["_bom"],
        delimiter=chosen["_delimiter"],
        download=chosen["_dl"],
        expand=expand.expansions,
    )
    if parser.errors:
        first = {key: position for position, (key, _) in reversed(list(enumerate(params)))}
        raise BadQuery(sorted(parser.errors, key=lambda e: first.get(e.param, len(params))))
    return query


def parse_key(spec: TableSpec, raw: str) -> tuple[Any, ...]:
    """Read the `/{pk}` path segment (composite keys comma-joined); NotFound if it cannot match."""
    missing = NotFound(f"No row with key {quoted(raw)} in {spec.resource}.")
    parts = [raw] if len(spec.primary_key) == 1 else raw.split(",")
    if not spec.primary_key or len(parts) != len(spec.primary_key):
        raise missing
    reader = FieldReader(spec)
    try:
        return tuple(
            reader.read(reader.field(name), part, possible=False)
            for name, part in zip(spec.primary_key, parts, strict=True)
        )
    except Problem:
        raise missing from None
