"""A column SQLite reads from the table rather than through an index: a plan that scans.

SQLite plans without value histograms (its `sqlite_stat1` holds one average per index), so on a
large table it walks an index for a wide date range, or in the order of a sort, and looks up
every row it meets to test filters the index does not hold: one random read per row, ten to
thirty times the cost of reading the table in order. Writing a column as the no-op `+column`
takes it away from every index, which leaves the planner a scan (and a sort for ORDER BY).
`api.db.rows` runs a query as planned first, and as a scan when the planned one passes a small
CPU budget, or, when the table's rollup can tell how many rows each index would read, in the
way `api.query.access` finds cheapest. PostgreSQL, which plans by histogram, is always given
the column as it is.

A query's `Access` says which columns may use an index: False, all of them (as planned); True,
none but the rowid (a scan of the table, in rowid order when the sort asks for it: reading the
table by its rowid is reading it in order, not a lookup per row); a set of column names, only
those.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class unindexed(FunctionElement[Any]):  # noqa: N801 - reads like the SQL it stands for
    """The column, kept out of index use on SQLite (`+column`); unchanged elsewhere."""

    inherit_cache = True

    def __init__(self, column: sa.ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


Access = bool | frozenset[str]


def is_rowid(column: sa.Column[Any]) -> bool:
    """Whether the column is its table's single integer key: SQLite's rowid."""
    keys = list(column.table.primary_key.columns)
    return keys == [column] and isinstance(column.type, sa.Integer)


def sql_column(column: sa.Column[Any], *, scan: Access) -> sa.ColumnElement[Any]:
    """The column as a query uses it: kept out of index use unless `scan` allows it."""
    if scan is False:
        return column
    allowed = is_rowid(column) if scan is True else column.name in scan
    return column if allowed else unindexed(column)
