"""Row counts of a large table by its indexed columns, counted as the rows load.

A count of matching rows reads every match: on a million rows, a category over a wide date
window is a scan of the table (40 to 400 ms on SQLite), and a facet is another. A release never
changes, so while its rows pass the loader counts them by each combination of the table's
indexed columns (dates, `enum` codes, foreign keys, the columns of declared indexes). When the
combinations fold the rows at least ROLLUP_MIN_FOLD to one, they are stored beside the table
(`api.db.sqltypes.build_rollup_table`); a count or facet that filters on those columns alone then
sums the counts of the matching combinations (`api.query.build`), with the same filters.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import frictionless
import sqlalchemy as sa

from api.db.sqltypes import ROLLUP_COUNT, build_rollup_table
from api.fieldtypes import JSON_TYPES
from api.ingest.sqlwrite import insert_rows

ROLLUP_MIN_ROWS = 50_000
"""Tables of fewer rows get no rollup: a count of theirs is a few milliseconds at most."""
ROLLUP_MAX_GROUPS = 200_000
"""Most combinations counted; past it the counting stops (a column of nearly unique values)."""
ROLLUP_MIN_FOLD = 8
"""Fewest rows per combination, on average, for the rollup to be kept."""
INSERT_BATCH = 20_000


def rollup_columns(schema: frictionless.Schema, indexes: Iterable[Sequence[str]]) -> list[str]:
    """The columns a table's rows are counted by: those of its indexes, keys and JSON aside."""
    indexed = {name for columns in indexes for name in columns}
    keys = set(schema.primary_key)
    return [
        f.name
        for f in schema.fields
        if f.name in indexed
        and f.name not in keys
        and f.type not in JSON_TYPES
        and f.name != ROLLUP_COUNT
    ]


class RollupCounter:
    """Counts the rows of each combination of values of some columns, batch by batch.

    Values are compared as stored (bound for the driver).
    """

    def __init__(self, positions: Sequence[int]) -> None:
        self.combination = operator.itemgetter(*positions) if positions else None
        self.single = len(positions) == 1  # itemgetter of one position gives the bare value
        self.groups: Counter[Any] | None = Counter() if positions else None
        self.rows = 0

    def add(self, batch: Sequence[Sequence[Any]]) -> None:
        """Count the rows of one batch."""
        self.rows += len(batch)
        if self.groups is None or self.combination is None:
            return
        self.groups.update(map(self.combination, batch))
        if len(self.groups) > ROLLUP_MAX_GROUPS:
            self.groups = None

    def combinations(self) -> Iterable[tuple[tuple[Any, ...], int]]:
        """Each combination counted, as a tuple of values, with its number of rows."""
        assert self.groups is not None
        for key, rows in self.groups.items():
            yield ((key,) if self.single else key), rows

    def worth_keeping(self) -> bool:
        """Whether the counts fold the table's rows enough to be stored."""
        if self.groups is None or self.rows < ROLLUP_MIN_ROWS:
            return False
        return len(self.groups) * ROLLUP_MIN_FOLD <= self.rows


def create_rollup(
    connection: sa.Connection,
    table: sa.Table,
    fields: Sequence[dict[str, Any]],
    columns: Sequence[str],
    counter: RollupCounter,
) -> sa.Table:
    """Store the counts beside `table`, with one covering index led by each of its columns.

    Each index holds the columns in turn from its leading one, then the count, so a sum under
    any filters reads index entries only, from a range that the leading column narrows.
    """
    rollup = build_rollup_table(sa.MetaData(), table.name, fields, columns, ddl=True)
    rollup.create(connection)
    rows = [(*key, n) for key, n in counter.combinations()]
    for start in range(0, len(rows), INSERT_BATCH):
        insert_rows(connection, rollup, rows[start : start + INSERT_BATCH])
    names = list(columns)
    for lead in range(len(names)):
        turn = names[lead:] + names[:lead] + [ROLLUP_COUNT]
        sa.Index(f"ix_{rollup.name}_{lead}", *(rollup.c[c] for c in turn)).create(connection)
    quoted = connection.dialect.identifier_preparer.quote(rollup.name)
    connection.exec_driver_sql(f"ANALYZE {quoted}")
    return rollup
