"""The filter operators and control parameters of the rows grammar, each defined once.

Parsing, SQL building, the OpenAPI parameters and the README tables all iterate these registries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from api.fieldtypes import ALL_TYPES, ORDERED_TYPES, SCALAR_TYPES, TEXT_TYPES

ValueKind = Literal["single", "list", "range", "flag", "text"]
# How the column's constraints restrict a filter's value (see `api.query.constraints`):
# `value`, each value must be one a row can hold; `bound`, each bound must fit the column's
# pattern and the range must meet the values the column allows; None, nothing is refused.
Checked = Literal["value", "bound"] | None
Clause = Callable[[sa.ColumnElement[Any], Any], sa.ColumnElement[bool]]


class localized(FunctionElement[str]):  # noqa: N801 - reads like the SQL it stands for
    """A text column under the database's own collation, for case-insensitive matching.

    Text columns are created with PostgreSQL's "C" collation (code-point order on both
    backends), under which ILIKE folds ASCII letters only; the database default folds all.
    On SQLite the column is used as it is (the reader engine registers a Unicode `lower`).
    """

    inherit_cache = True
    type = sa.Text()


@compiles(localized)
def _localized(element: localized, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(localized, "postgresql")
def _localized_postgresql(element: localized, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)} COLLATE "default")'


class folded_contains(FunctionElement[bool]):  # noqa: N801 - reads like the SQL it stands for
    """`icontains`: the column contains the text, ignoring case (Unicode case folding).

    Built from the column, the text and the LIKE pattern of its lower case. On SQLite, a value
    of printable ASCII only is matched by LIKE, which folds ASCII case in C; only values holding
    other characters go through the registered Unicode `lower`, a call into Python per row.
    The answer is the same; a scan of a million short codes no longer calls Python a million
    times, which held the GIL against every other request of the worker.
    """

    inherit_cache = True
    type = sa.Boolean()


def _folded_contains(column: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return folded_contains(column, sa.literal(escaped), sa.literal(f"%{escaped.lower()}%"))


@compiles(folded_contains)
def _folded_contains_default(element: folded_contains, compiler: SQLCompiler, **kw: Any) -> str:
    column, escaped, _pattern = element.clauses
    return f"({compiler.process(localized(column).icontains(escaped, escape='/'), **kw)})"


@compiles(folded_contains, "sqlite")
def _folded_contains_sqlite(element: folded_contains, compiler: SQLCompiler, **kw: Any) -> str:
    column, _text, pattern = element.clauses
    other_than_printable_ascii = column.op("GLOB")(sa.literal("*[^ -~]*"))
    expression = sa.case(
        (other_than_printable_ascii, sa.func.lower(column).like(pattern, escape="/")),
        else_=column.like(pattern, escape="/"),
    )
    return f"({compiler.process(expression, **kw)})"


@dataclass(frozen=True)
class Operator:
    """One filter operator: its key, what it means, the types it fits, its value and its SQL."""

    key: str
    description: str
    types: frozenset[str]
    kind: ValueKind
    clause: Clause
    checked: Checked = None


@dataclass(frozen=True)
class Control:
    """One `_`-prefixed control parameter."""

    key: str
    description: str
    repeatable: bool = False
    formats: frozenset[str] | None = None  # the formats it applies to; None for every one


def _between(column: sa.ColumnElement[Any], bounds: tuple[Any, Any]) -> sa.ColumnElement[bool]:
    low, high = bounds
    clause: sa.ColumnElement[bool]
    if low is None:
        clause = column <= high
    else:
        clause = column >= low if high is None else column.between(low, high)
    return clause


# SQLite's LIKE ignores ASCII case, so the operators that respect case compare substrings, which
# are case-sensitive on SQLite and PostgreSQL alike; `replace` drops the text wherever it occurs.
# fmt: off
MISSING_MATCH = "Rows where the value is missing match too."
OPERATORS: dict[str, Operator] = {op.key: op for op in (
    Operator("exact", "Equal to the value (`col=v` is the same).", SCALAR_TYPES, "single",
             lambda c, v: c == v, checked="value"),
    Operator("not", f"Not equal to the value. {MISSING_MATCH}", SCALAR_TYPES, "single",
             lambda c, v: c.is_distinct_from(v)),
    Operator("gt", "Greater than the value.", ORDERED_TYPES, "single", lambda c, v: c > v,
             checked="bound"),
    Operator("gte", "Greater than or equal to the value.", ORDERED_TYPES, "single",
             lambda c, v: c >= v, checked="bound"),
    Operator("lt", "Less than the value.", ORDERED_TYPES, "single", lambda c, v: c < v,
             checked="bound"),
    Operator("lte", "Less than or equal to the value.", ORDERED_TYPES, "single",
             lambda c, v: c <= v, checked="bound"),
    Operator("between", "Between two values, both included, written `a..b`; either end may be "
             "left out (`a..` or `..b`).", ORDERED_TYPES, "range", _between, checked="bound"),
    Operator("in", "Equal to one of a comma-separated list of values; write a JSON array "
             "(`[\"a,b\",\"c\"]`) when a value holds a comma.", SCALAR_TYPES, "list",
             lambda c, v: c.in_(v), checked="value"),
    Operator("notin", "Equal to none of a comma-separated list of values (or a JSON array). "
             f"{MISSING_MATCH}", SCALAR_TYPES, "list",
             lambda c, v: sa.or_(c.not_in(v), c.is_(None))),
    Operator("contains", "Contains the text; case matters.", TEXT_TYPES, "text",
             lambda c, v: sa.func.replace(c, v, "") != c),
    Operator("icontains", "Contains the text, ignoring case.", TEXT_TYPES, "text",
             _folded_contains),
    Operator("startswith", "Starts with the text; case matters.", TEXT_TYPES, "text",
             lambda c, v: sa.func.substr(c, 1, len(v)) == v),
    Operator("endswith", "Ends with the text; case matters.", TEXT_TYPES, "text",
             lambda c, v: sa.func.substr(c, sa.func.length(c) - (len(v) - 1)) == v),
    Operator("isnull", "`1` or `true`: the value is missing; `0` or `false`: it is present.",
             ALL_TYPES, "flag", lambda c, v: c.is_(None) if v else c.is_not(None)),
    Operator("notnull", "`1` or `true`: the value is present; `0` or `false`: it is missing.",
             ALL_TYPES, "flag", lambda c, v: c.is_not(None) if v else c.is_(None)),
)}

JSON_ONLY, CSV_ONLY = frozenset({"json"}), frozenset({"csv"})
CONTROLS: dict[str, Control] = {control.key: control for control in (
    Control("_sort", "Sort by these columns, comma-separated and/or repeated; `-col` sorts "
            "descending. Missing values come last. The primary key always breaks ties.", True),
    Control("_col", "Return only these columns (comma-separated and/or repeated), in schema "
            "order.", True),
    Control("_nocol", "Leave out these columns (comma-separated and/or repeated).", True),
    Control("_expand", "Follow this foreign key (comma-separated and/or repeated) and add the "
            "columns of the row it refers to: `field.column` in CSV and Excel, an object in "
            "place of the key's value in JSON. `_col`/`_nocol` choose among them as "
            "`field.column`.", True),
    Control("_size", "JSON pages only: rows per page, {default_size} by default, at most "
            "{max_size}; `0` returns no rows, only the count and facets.", formats=JSON_ONLY),
    Control("_next", "The cursor of the next page, as given in `next_url`; opaque."),
    Control("_count", "JSON pages only: `bounded` (the default) counts the matching rows up to "
            "a cap: `total_is_exact` false means more than `total` match; `exact` counts them "
            "all under the time limit; `none` skips counting.", formats=JSON_ONLY),
    Control("_facet", "JSON pages only: count the rows under the current filters by each value "
            "of this column (comma-separated and/or repeated); at most 5 columns by default.", True,
            formats=JSON_ONLY),
    Control("_bom", "CSV only: `1` makes the file ready for Excel: a UTF-8 byte order mark, and "
            "a `'` before text that starts with `=`, `+`, `-`, `@`, tab or CR.", formats=CSV_ONLY),
    Control("_delimiter", "CSV only: the field separator, `,` (the default), `;` or a tab "
            "(`\\t` or `tab`).", formats=CSV_ONLY),
    Control("_dl", "`1` asks the browser to save the file, named after the package, version and "
            "resource, plus `-filtered-` and a short hash of the selection when the file holds "
            "only some rows or columns. Workbooks and Excel-ready CSV are always saved so."),
)}
# fmt: on


def describe_control(key: str, *, default_size: int, max_size: int) -> str:
    """Return the description of a control with the page-size limits filled in."""
    return CONTROLS[key].description.format(default_size=default_size, max_size=max_size)


def operators_for(field_type: str) -> list[str]:
    """Return the keys of the operators that fit a Table Schema type, in registry order."""
    return [op.key for op in OPERATORS.values() if field_type in op.types]
