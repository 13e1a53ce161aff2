"""SQL for a RowQuery: the page select, the total, the facets and one row by its key.

Column names reach SQL only as `spec.table.c[name]` after a check against the table's fields,
and every value from a request is a bound parameter: no SQL text is built from input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from api.model import Rollup, TableSpec
from api.query.cursor import encode_cursor, keyset_condition, order_by
from api.query.grammar import RowQuery
from api.query.operators import OPERATORS
from api.query.scan import Access, sql_column

DEFAULT_FACET_SIZE = 100


@dataclass(frozen=True)
class Plan:
    """A rows select and how to read what it returns.

    The select returns the projected columns first, then any sort column the projection left
    out: a cursor needs every sort value of the last row of a page. `output_row` drops those
    extra columns again; `cursor` reads them.
    """

    select: sa.Select[Any]
    output_columns: tuple[str, ...]
    cursor_columns: tuple[str, ...]
    cursor_positions: tuple[int, ...]

    def output_row(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """Return the projected values of a selected row."""
        return tuple(row[: len(self.output_columns)])

    def cursor(self, row: Sequence[Any]) -> str:
        """Return the `_next` token of the page that starts after `row`."""
        return encode_cursor([row[position] for position in self.cursor_positions])

    def page(
        self,
        rows: Sequence[Sequence[Any]],
        size: int,
        *,
        typed: Callable[[Sequence[Any]], Sequence[Any]] | None = None,
    ) -> tuple[list[tuple[Any, ...]], str | None]:
        """Split rows fetched with `limit=size + 1` into a page and the next page's cursor.

        :param typed: turns a selected row into typed values, for a `stored` select (the cursor
            carries typed values).
        """
        kept = rows[:size]
        following = None
        if len(rows) > size and kept:
            last = kept[-1] if typed is None else typed(kept[-1])
            following = self.cursor(last)
        return [self.output_row(row) for row in kept], following


def _column(spec: TableSpec, name: str) -> sa.Column[Any]:
    if spec.field(name) is None:
        raise ValueError(f"{name!r} is not a column of {spec.resource}")
    return spec.table.c[name]


def _where(
    spec: TableSpec, query: RowQuery, scan: Access = False, *, on: sa.Table | None = None
) -> list[sa.ColumnElement[bool]]:
    """The filters of `query` as SQL, on the table or, given `on`, on its rollup's columns."""
    return [
        OPERATORS[f.op].clause(
            sql_column(_column(spec, f.column) if on is None else on.c[f.column], scan=scan),
            f.value,
        )
        for f in query.filters
    ]


def _rollup(spec: TableSpec, query: RowQuery, *also: str) -> Rollup | None:
    """The table's rollup if it holds every filtered column (and `also`), else None."""
    rollup = spec.rollup
    if rollup is None or not rollup.covers([*(f.column for f in query.filters), *also]):
        return None
    return rollup


def counted_by_rollup(spec: TableSpec, query: RowQuery) -> bool:
    """Whether the matches of `query` are counted from the table's rollup: exact, and cheap."""
    return _rollup(spec, query) is not None


def _summed(rollup: Rollup) -> sa.ColumnElement[int]:
    """The number of rows the selected combinations of a rollup stand for."""
    total = sa.func.coalesce(sa.func.sum(rollup.table.c[rollup.count]), 0)
    return sa.cast(total, sa.BigInteger)


def _stored(column: sa.ColumnElement[Any], label: str) -> sa.ColumnElement[Any]:
    """The column as the driver returns it, without its type's result processing."""
    return sa.type_coerce(column, sa.types.NullType()).label(label)


def _expanded(
    spec: TableSpec, query: RowQuery
) -> tuple[sa.FromClause, list[tuple[sa.ColumnElement[Any], str]]]:
    """The table joined to each table `_expand` follows, and the referenced columns with labels.

    One left join per followed key, onto a unique referenced field: each row stays one row, and
    a row whose key is missing keeps missing referenced values.
    """
    joined: sa.FromClause = spec.table
    columns: list[tuple[sa.ColumnElement[Any], str]] = []
    for index, step in enumerate(query.expand):
        target = step.target.table.alias(f"expanded_{index}")
        joined = joined.outerjoin(target, target.c[step.key] == _column(spec, step.column))
        columns += [
            (target.c[name], f"expanded_{index}_{position}")
            for position, name in enumerate(step.columns)
        ]
    return joined, columns


def build_select(
    spec: TableSpec,
    query: RowQuery,
    *,
    limit: int | None,
    stored: bool = False,
    scan: Access = False,
) -> Plan:
    """Return the plan of the rows select: filters, resume-after-cursor, sort and projection.

    :param limit: rows to fetch; pass `query.size + 1` for a JSON page (the extra row tells
        whether there is a next page, see `Plan.page`), None to stream every matching row.
    :param stored: select values as stored, leaving their decoding to the caller (which then
        decodes only the columns that need it).
    :param scan: which columns may use an index (`api.query.scan.Access`).
    """
    sort_columns = tuple(key.column for key in query.sort)
    extra = tuple(name for name in sort_columns if name not in query.columns)
    joined, referenced = _expanded(spec, query)
    own = [_column(spec, name) for name in query.columns]
    more = [_column(spec, name) for name in extra]
    selected: list[sa.ColumnElement[Any]]
    if stored:
        selected = [_stored(column, column.name) for column in own]
        selected += [_stored(column, label) for column, label in referenced]
        selected += [_stored(column, column.name) for column in more]
    else:
        selected = [*own, *(column.label(label) for column, label in referenced), *more]
    names = query.output_columns + extra
    select = sa.select(*selected).select_from(joined).where(*_where(spec, query, scan))
    if query.after is not None:
        select = select.where(keyset_condition(spec, query.sort, query.after, scan=scan))
    select = select.order_by(*order_by(spec, query.sort, scan=scan))
    if limit is not None:
        select = select.limit(limit)
    return Plan(
        select=select,
        output_columns=query.output_columns,
        cursor_columns=sort_columns,
        cursor_positions=tuple(names.index(name) for name in sort_columns),
    )


def build_count(spec: TableSpec, query: RowQuery, *, scan: Access = False) -> sa.Select[Any]:
    """Return the select of the number of rows matching the filters (the cursor ignored).

    Filters on the columns of the table's rollup alone sum its counts (see `api.model.Rollup`).
    """
    rollup = _rollup(spec, query)
    if rollup is not None:
        return sa.select(_summed(rollup)).where(*_where(spec, query, on=rollup.table))
    return sa.select(sa.func.count()).select_from(spec.table).where(*_where(spec, query, scan))


def build_bounded_count(
    spec: TableSpec, query: RowQuery, bound: int, *, scan: Access = False
) -> sa.Select[Any]:
    """Return the select of the number of matching rows, counting no further than `bound`.

    A count the rollup gives is exact, whatever `bound`.
    """
    if _rollup(spec, query) is not None:
        return build_count(spec, query)
    matching = sa.select(sa.literal(1)).select_from(spec.table).where(*_where(spec, query, scan))
    return sa.select(sa.func.count()).select_from(matching.limit(bound).subquery())


def build_facet(
    spec: TableSpec,
    query: RowQuery,
    column: str,
    *,
    limit: int = DEFAULT_FACET_SIZE,
    scan: Access = False,
) -> sa.Select[Any]:
    """Return the select of (value, count) pairs of a column under the filters, most common first.

    Missing values form one group with value None; ties in count go by value, missing last.
    A column of the rollup, under filters on its columns alone, sums its counts.
    """
    target = _column(spec, column)
    rollup = _rollup(spec, query, column)
    if rollup is not None:
        target = rollup.table.c[column]
        count = _summed(rollup).label("count")
        where = _where(spec, query, on=rollup.table)
        grouped: sa.ColumnElement[Any] = target
    else:
        count = sa.func.count().label("count")
        where = _where(spec, query, scan)
        grouped = sql_column(target, scan=scan)
    return (
        sa.select(target.label("value"), count)
        .where(*where)
        .group_by(grouped)
        .order_by(count.desc(), target.asc().nulls_last())
        .limit(limit)
    )


def build_row(spec: TableSpec, key_values: Sequence[Any]) -> sa.Select[Any]:
    """Return the select of the row whose primary key is `key_values` (see `parse_key`)."""
    if not spec.primary_key or len(key_values) != len(spec.primary_key):
        raise ValueError(f"{spec.resource} needs {len(spec.primary_key)} key values")
    columns = [_column(spec, name) for name in spec.column_names]
    match = [
        _column(spec, name) == value
        for name, value in zip(spec.primary_key, key_values, strict=True)
    ]
    return sa.select(*columns).where(*match)
