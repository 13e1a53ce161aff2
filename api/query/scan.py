"""A column SQLite reads from the table rather than through an index: a plan that scans.

SQLite plans without value histograms (its `sqlite_stat1` holds one average per index), so on a
large table it walks an index for a wide date range, or in the order of a sort, and looks up
every row it meets to test filters the index does not hold: one random read per row, ten to
thirty times the cost of reading the table in order. Writing a column as the no-op `+column`
takes it away from every index, which leaves the planner a scan (and a sort for ORDER BY).
`api.db.rows` runs a query as planned first, and as a scan when the planned one passes a small
CPU budget. PostgreSQL, which plans by histogram, is always given the column as it is.
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


def sql_column(column: sa.Column[Any], *, scan: bool) -> sa.ColumnElement[Any]:
    """The column as a query uses it: kept out of index use when the query must `scan`."""
    return unindexed(column) if scan else column
