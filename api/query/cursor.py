"""Keyset paging: sort keys, their ORDER BY, opaque cursors and the condition to resume after one.

A page ends on a row; the cursor carries that row's values of every sort column (the primary key
is always among them, so the order is total). The next page holds the rows that sort strictly
after it. Missing values sort last in ascending and in descending order alike, on SQLite and on
PostgreSQL, so the ORDER BY and the resume condition agree on both.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from api.errors import BadQuery, ParamError, quoted
from api.fieldtypes import type_of
from api.model import TableSpec
from api.query.decode import load_json, stored_or_problem
from api.query.scan import Access, sql_column

CURSOR_PARAM = "_next"
MAX_CURSOR_LENGTH = 4096
INVALID_CURSOR = "invalid-cursor"


@dataclass(frozen=True)
class SortKey:
    """One column of the sort order; missing values always come last."""

    column: str
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.column}" if self.descending else self.column


# Values JSON cannot carry as themselves are written as {tag: text} and read back with `parse`.
@dataclass(frozen=True)
class _Tagged:
    tag: str
    type: type
    dump: Callable[[Any], str]
    parse: Callable[[str], Any]


_TAGGED: tuple[_Tagged, ...] = (  # datetime before date: a datetime is a date too
    _Tagged("dt", datetime, datetime.isoformat, datetime.fromisoformat),
    _Tagged("d", date, date.isoformat, date.fromisoformat),
    _Tagged("t", time, time.isoformat, time.fromisoformat),
    _Tagged("n", Decimal, str, lambda text: _decimal(text)),
)
_BY_TAG = {tagged.tag: tagged for tagged in _TAGGED}


def _decimal(text: str) -> Decimal:
    number = Decimal(text)  # InvalidOperation (an ArithmeticError) on text that is no number
    if number.is_snan():
        raise ValueError("a signalling NaN is no value")
    return number


def _default(value: Any) -> Any:
    for tagged in _TAGGED:
        if isinstance(value, tagged.type):
            return {tagged.tag: tagged.dump(value)}
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _object_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((tag, text),) = obj.items()
        tagged = _BY_TAG.get(tag)
        if tagged is not None and isinstance(text, str):
            return tagged.parse(text)
    raise ValueError("unexpected object in cursor")


def encode_cursor(values: Sequence[Any]) -> str:
    """Return the opaque token for a row whose sort-column values are `values`."""
    text = json.dumps(list(values), default=_default, separators=(",", ":"), allow_nan=True)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _invalid(message: str) -> BadQuery:
    return BadQuery([ParamError(CURSOR_PARAM, INVALID_CURSOR, message)])


def _fits(value: Any, field_type: str) -> bool:
    # Exact type checks: bool is an int and datetime is a date, but neither may stand for the other.
    return value is None or type(value) in type_of(field_type).cursor_types


def decode_cursor(token: str, spec: TableSpec, sort: Sequence[SortKey]) -> tuple[Any, ...]:
    """Return the sort-column values a `_next` token carries, checked against `sort`."""
    restart = "start again from the first page"
    if not token or len(token) > MAX_CURSOR_LENGTH:
        raise _invalid(f"_next is empty or too long to be a cursor; {restart}.")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = load_json(raw.decode("utf-8"), max_depth=2, object_hook=_object_hook)
    except (binascii.Error, UnicodeDecodeError, ValueError):  # Undecodable is a ValueError
        raise _invalid(f"_next is not a cursor this API issued; {restart}.") from None
    if not isinstance(values, list) or len(values) != len(sort):
        raise _invalid(f"_next does not match the sort order {_sort_text(sort)}; {restart}.")
    decoded = []
    for key, value in zip(sort, values, strict=True):
        spec_field = spec.field(key.column)
        field_type = spec_field.type if spec_field is not None else "any"
        stored, reason = (
            stored_or_problem(field_type, value) if _fits(value, field_type) else (None, "type")
        )
        if reason is not None:
            raise _invalid(
                f"_next holds a value for {quoted(key.column)} that is not a {field_type};"
                f" {restart}."
            )
        decoded.append(stored)
    return tuple(decoded)


def _sort_text(sort: Sequence[SortKey]) -> str:
    return ",".join(str(key) for key in sort)


def order_by(
    spec: TableSpec, sort: Sequence[SortKey], *, scan: Access = False
) -> list[sa.UnaryExpression[Any]]:
    """Return the ORDER BY terms of `sort`, missing values last in both directions.

    NULLS LAST is left out on columns that cannot hold NULL, so an index can serve the order.

    :param scan: which columns may use an index (`api.query.scan.Access`).
    """
    terms = []
    for key in sort:
        column = spec.table.c[key.column]
        used = sql_column(column, scan=scan)
        term = used.desc() if key.descending else used.asc()
        terms.append(term.nulls_last() if column.nullable else term)
    return terms


def _bound(column: sa.Column[Any], value: Any) -> sa.BindParameter[Any]:
    # An explicit parameter: SQLAlchemy refuses `column > True` with a plain Python bool.
    return sa.bindparam(column.key, value, type_=column.type, unique=True)


def _after(
    column: sa.Column[Any], used: sa.ColumnElement[Any], key: SortKey, value: Any
) -> sa.ColumnElement[bool] | None:
    """Rows whose value in `column` (written `used`) sorts strictly after `value`, or None."""
    if value is None:
        return None  # missing values come last: nothing follows them
    bound = _bound(column, value)
    beyond = used < bound if key.descending else used > bound
    return sa.or_(beyond, used.is_(None)) if column.nullable else beyond


def _same(
    column: sa.Column[Any], used: sa.ColumnElement[Any], value: Any
) -> sa.ColumnElement[bool]:
    return used.is_(None) if value is None else used == _bound(column, value)


def keyset_predicate(
    width: int,
    equal: Callable[[int], sa.ColumnElement[bool]],
    beyond: Callable[[int], sa.ColumnElement[bool] | None],
) -> sa.ColumnElement[bool]:
    """Rows after a key of `width` columns in lexicographic order: for some position, equal on
    every column before it (`equal(i)`) and beyond on it (`beyond(i)`; None: no row is)."""
    alternatives = []
    for position in range(width):
        same = [equal(prior) for prior in range(position)]
        step = beyond(position)
        if step is not None:
            alternatives.append(sa.and_(*same, step))
    return sa.or_(*alternatives) if alternatives else sa.false()


def keyset_condition(
    spec: TableSpec, sort: Sequence[SortKey], after: Sequence[Any], *, scan: Access = False
) -> sa.ColumnElement[bool]:
    """Return the WHERE condition for rows that sort strictly after the row with `after` values.

    :param scan: which columns may use an index (`api.query.scan.Access`).
    """
    if len(after) != len(sort):
        raise ValueError("a cursor needs one value per sort key")
    columns = [spec.table.c[key.column] for key in sort]
    used = [sql_column(column, scan=scan) for column in columns]
    return keyset_predicate(
        len(sort),
        lambda i: _same(columns[i], used[i], after[i]),
        lambda i: _after(columns[i], used[i], sort[i], after[i]),
    )
