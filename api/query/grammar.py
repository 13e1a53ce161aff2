"""The rows query grammar: operators and controls as registries, parsed into a RowQuery.

Data filters are `column__op=value` (`column=value` means `exact`); controls start with `_`.
Every value is read with its field's own frictionless value reader, so a filter accepts exactly
the values validation accepts. Every problem in a query string is collected and reported at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import frictionless
import orjson

from api.errors import BadQuery, NotFound, ParamError, quoted
from api.fieldtypes import JSON_TYPES, SORTABLE_TYPES, type_of
from api.model import FieldSpec, TableSpec
from api.query.constraints import bound_problems, rules_of, value_problems
from api.query.controls import duplicate_error, read_size
from api.query.cursor import CURSOR_PARAM, SortKey, decode_cursor
from api.query.decode import Undecodable, load_json, stored_or_problem, text_problem
from api.query.expand import Expansion, read_expand
from api.query.operators import CONTROLS, OPERATORS, Operator, operators_for


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


FLAGS: dict[str, bool] = {"1": True, "true": True, "0": False, "false": False}
COUNT_MODES: dict[str, str] = {"bounded": "bounded", "exact": "exact", "none": "none"}
DELIMITERS: dict[str, str] = {",": ",", ";": ";", "\t": "\t", "\\t": "\t", "tab": "\t"}
MAX_LIST_VALUES = 1000
MAX_FACETS = 5  # `_facet` columns of one page unless the caller says otherwise


class _Problem(Exception):
    """A problem with one parameter, raised while reading it and recorded by the caller."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.found = [(code, message)]

    @classmethod
    def of(cls, found: Sequence[tuple[str, str]]) -> _Problem:
        """Return one problem that carries every (code, message) pair in `found`."""
        problem = cls(*found[0])
        problem.found = list(found)
        return problem

    @classmethod
    def joined(cls, problems: Sequence[_Problem]) -> _Problem:
        """Return one problem that carries every problem in `problems`."""
        joined = cls(*problems[0].found[0])
        joined.found = [pair for problem in problems for pair in problem.found]
        return joined


def _unknown_column(spec: TableSpec, name: str) -> _Problem:
    known = ", ".join(spec.column_names)
    return _Problem(
        "unknown-column", f"No column {quoted(name)} in this table; the columns are: {known}."
    )


@lru_cache(maxsize=4096)
def _value_reader(descriptor: str) -> Callable[[Any], Any]:
    """frictionless's value reader of a field, built once per field descriptor.

    Building a `frictionless.Field` validates and copies its descriptor (about 1 ms); the reader
    it returns is a pure function of the descriptor, so every request can share it.
    """
    return frictionless.Field.from_descriptor(orjson.loads(descriptor)).create_value_reader()


class _Reader:
    """Reads the values of a table's fields with their frictionless readers."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self._keys: dict[str, str] = {}

    def field(self, name: str) -> FieldSpec:
        field = self.spec.field(name)
        if field is None:
            raise _unknown_column(self.spec, name)
        return field

    def key(self, field: FieldSpec) -> str:
        """The field's descriptor as canonical JSON: what its reader and rules are cached by."""
        if field.name not in self._keys:
            descriptor = dict(field.descriptor) or {
                "name": field.name,
                "type": field.type,
                **({"format": field.format} if field.format else {}),
                **({"constraints": dict(field.constraints)} if field.constraints else {}),
            }
            self._keys[field.name] = orjson.dumps(descriptor, option=orjson.OPT_SORT_KEYS).decode()
        return self._keys[field.name]

    def read(self, field: FieldSpec, text: str, *, possible: bool) -> Any:
        """Return `text` read as a value of `field`, in stored form.

        :param possible: refuse a value that no row can hold (see `api.query.constraints`).
        """
        reader = _value_reader(self.key(field))
        if not text:
            raise _Problem(
                "invalid-value",
                f"An empty value for column {quoted(field.name)} matches "
                f"nothing; use {field.name}__isnull=1 to find missing values.",
            )
        reason = text_problem(text)
        if reason is not None:
            raise _Problem(
                "invalid-value",
                f"{quoted(text)} is not a usable value for column {quoted(field.name)}: {reason}.",
            )
        value = reader(text)
        if value is None:
            if field.format and field.format != "default":
                expected = f"a {field.type} in format {quoted(field.format)}"
            else:
                expected = type_of(field.type).hint
            raise _Problem(
                "invalid-value",
                f"{quoted(text)} is not a valid value for column {quoted(field.name)}:"
                f" expected {expected}.",
            )
        stored, reason = stored_or_problem(field.type, value)
        if reason is not None:
            raise _Problem(
                "invalid-value",
                f"{quoted(text)} is not a usable value for column {quoted(field.name)}: {reason}.",
            )
        if possible:
            found = value_problems(self.spec, field, rules_of(self.key(field)), stored, text)
            if found:
                raise _Problem.of(found)
        return stored


class _Parser(_Reader):
    """Collects every problem of one query string while it is read."""

    def __init__(self, spec: TableSpec) -> None:
        super().__init__(spec)
        self.errors: list[ParamError] = []

    def record(self, param: str, problem: _Problem) -> None:
        self.errors.extend(ParamError(param, code, message) for code, message in problem.found)

    def value(self, field: FieldSpec, op: Operator, text: str) -> Any:
        """Read the value of a filter according to its operator's kind."""
        if op.kind == "flag":
            if text.lower() not in FLAGS:
                raise _Problem(
                    "invalid-value", f"{op.key} takes 1 or true, 0 or false; got {quoted(text)}."
                )
            return FLAGS[text.lower()]
        if op.kind == "text":
            if not text:
                raise _Problem(
                    "invalid-value",
                    f"An empty text matches every value of column "
                    f"{quoted(field.name)}; leave the filter out instead.",
                )
            reason = text_problem(text)
            if reason is not None:
                raise _Problem("invalid-value", f"{quoted(text)} cannot be searched for: {reason}.")
            return text
        if op.kind == "single":
            value = self.read(field, text, possible=op.checked == "value")
        elif op.kind == "range":
            value = self.bounds(field, text)
        else:
            return self.members(field, text, possible=op.checked == "value")
        if op.checked == "bound":
            found = bound_problems(field, rules_of(self.key(field)), op.key, value)
            if found:
                raise _Problem.of(found)
        return value

    def bounds(self, field: FieldSpec, text: str) -> tuple[Any, Any]:
        if text.count("..") != 1 or text == "..":
            raise _Problem(
                "invalid-value",
                f"Write a range as low..high, either end optional; got {quoted(text)}.",
            )
        low_text, _, high_text = text.partition("..")
        low = self.read(field, low_text, possible=False) if low_text else None
        high = self.read(field, high_text, possible=False) if high_text else None
        if low is not None and high is not None and low > high:
            raise _Problem(
                "invalid-value", f"The range {quoted(text)} is empty: its low end is higher."
            )
        return low, high

    def members(self, field: FieldSpec, text: str, *, possible: bool) -> tuple[Any, ...]:
        """Read every member of a list; raise one problem naming each bad member."""
        values, problems = [], []
        for item in _list_items(text):
            try:
                values.append(self.read(field, item, possible=possible))
            except _Problem as problem:
                problems.append(problem)
        if problems:
            raise _Problem.joined(problems)
        return tuple(values)

    def names(self, param: str, values: Iterable[str]) -> list[str]:
        """Column names of a comma-separated and/or repeated control; unknown ones recorded."""
        names = []
        for value in values:
            for name in _split_names(self.spec, value):
                if self.spec.field(name) is None:
                    self.record(param, _unknown_column(self.spec, name))
                else:
                    names.append(name)
        return names


def _list_items(text: str) -> list[str]:
    if not text.startswith("["):
        items: Any = text.split(",")
    else:
        try:
            items = load_json(text)
        except Undecodable:
            items = None
        if not isinstance(items, list) or not items or not all(_scalar(i) for i in items):
            raise _Problem(
                "invalid-value", "A JSON array must hold strings and numbers, at least one."
            )
    if len(items) > MAX_LIST_VALUES:
        raise _Problem("invalid-value", f"A list may hold at most {MAX_LIST_VALUES} values.")
    return [i if isinstance(i, str) else json.dumps(i) for i in items]


def _scalar(item: Any) -> bool:
    return isinstance(item, str | int | float) and not isinstance(item, bool)


def _split_names(spec: TableSpec, value: str) -> list[str]:
    # A whole value naming a column wins, so a column whose name holds a comma stays reachable.
    return [value] if spec.field(value.removeprefix("-")) is not None else value.split(",")


def _filter_target(spec: TableSpec, key: str) -> tuple[FieldSpec, Operator]:
    """Return the field and operator a filter parameter names."""
    field = spec.field(key)
    if field is not None and not key.startswith("_"):
        return field, OPERATORS["exact"]
    column, sep, op = key.rpartition("__")
    field = spec.field(column) if sep else None
    if sep and op in OPERATORS:
        if field is None:
            raise _unknown_column(spec, column)
        return field, OPERATORS[op]
    if field is not None:
        raise _Problem(
            "unknown-operator",
            f"No operator {quoted(op)}; the operators are: {', '.join(OPERATORS)}.",
        )
    if key.startswith("_"):
        raise _Problem(
            "unknown-parameter",
            f"No control parameter {quoted(key)}; the controls are: {', '.join(CONTROLS)}.",
        )
    raise _unknown_column(spec, key)


def _parse_filter(parser: _Parser, key: str, text: str) -> Filter:
    field, op = _filter_target(parser.spec, key)
    if field.type not in op.types:
        fits = ", ".join(operators_for(field.type))
        raise _Problem(
            "operator-not-for-type",
            f"Operator {quoted(op.key)} does not apply to column "
            f"{quoted(field.name)} of type {field.type}; its operators are: {fits}.",
        )
    return Filter(field.name, op.key, parser.value(field, op, text))


def _parse_sort(parser: _Parser, values: list[str]) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for value in values:
        for item in _split_names(parser.spec, value):
            name = item.removeprefix("-")
            try:
                field = parser.field(name)
                if field.type not in SORTABLE_TYPES:
                    raise _Problem(
                        "invalid-control",
                        f"Column {quoted(name)} of type {field.type} cannot be sorted.",
                    )
                if any(key.column == name for key in keys):
                    raise _Problem("invalid-control", f"Column {quoted(name)} is sorted twice.")
                keys.append(SortKey(name, item.startswith("-")))
            except _Problem as problem:
                parser.record("_sort", problem)
    return tuple(keys) + _tie_break(parser.spec, keys)


def _tie_break(spec: TableSpec, keys: Sequence[SortKey]) -> tuple[SortKey, ...]:
    """Primary key columns not yet sorted on; without a key, every sortable column."""
    taken = {key.column for key in keys}
    names = spec.primary_key or tuple(f.name for f in spec.fields if f.type in SORTABLE_TYPES)
    return tuple(SortKey(name) for name in names if name not in taken)


def _parse_columns(
    parser: _Parser, chosen: list[str], dropped: list[str], *, expanded: bool = False
) -> tuple[str, ...]:
    known = len(parser.errors)
    keep = set(parser.names("_col", chosen)) if chosen else set(parser.spec.column_names)
    keep -= set(parser.names("_nocol", dropped))
    columns = tuple(name for name in parser.spec.column_names if name in keep)
    if not columns and not expanded and len(parser.errors) == known:
        parser.record(
            "_nocol" if dropped else "_col",
            _Problem("invalid-control", "No columns are left to return."),
        )
    return columns


def _parse_facets(parser: _Parser, values: list[str], max_facets: int) -> tuple[str, ...]:
    facets = []
    names = dict.fromkeys(parser.names("_facet", values))
    if len(names) > max_facets:
        # Each facet is one more query under the time limit: their number is bounded too.
        parser.record(
            "_facet",
            _Problem(
                "too-many-facets",
                f"{len(names)} columns are faceted; at most {max_facets} may be.",
            ),
        )
    for name in names:
        field_type = parser.field(name).type
        if field_type in JSON_TYPES:
            parser.record(
                "_facet",
                _Problem(
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
        raise _Problem("invalid-control", f"{key} takes one of {allowed}; got {quoted(text)}.")

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
    parser = _Parser(spec)
    filters: list[Filter] = []
    given: dict[str, list[str]] = {key: [] for key in CONTROLS}
    for key, text in params:
        if key in CONTROLS:
            given[key].append(text)
            continue
        try:
            filters.append(_parse_filter(parser, key, text))
        except _Problem as problem:
            parser.record(key, problem)
    for key, control in CONTROLS.items():
        if given[key] and control.formats is not None and fmt not in control.formats:
            applies = " or ".join(sorted(f.upper() for f in control.formats))
            parser.record(
                key,
                _Problem(
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
            except _Problem as problem:
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
    reader = _Reader(spec)
    try:
        return tuple(
            reader.read(reader.field(name), part, possible=False)
            for name, part in zip(spec.primary_key, parts, strict=True)
        )
    except _Problem:
        raise missing from None
