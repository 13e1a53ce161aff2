"""The cheapest way to read a page of a large SQLite table, judged from its rollup's exact counts.

SQLite keeps one average per index and no histogram, so it cannot tell a date index that reads
300 rows from one that reads 300,000. The table's rollup (`api.model.Rollup`) can: for filters on
its columns it counts exactly the rows each index range holds. For each index the filters can
seek, and for the table read in rowid order, this module estimates the rows read before the page
is complete, and prices them:

- a row found through an index costs a lookup in the table (LOOKUP_COST), a row of a scan
  SCAN_COST;
- a walk in the order of the sort stops once it has the page, which takes, with the matches
  spread evenly, `(size + 1) * rows / matches` of its rows; any other has to read them all and
  sort the matches (SORT_COST each).

The cheapest is returned as an `Access` (`api.query.scan`): only its columns may use an index,
so SQLite has that plan or a scan of the table left to choose from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from api.model import TableSpec
from api.query.build import counted_by_rollup
from api.query.grammar import Filter, RowQuery
from api.query.scan import Access, is_rowid

# Relative CPU per row, measured on a million-row table of eight columns (bench/RESULTS.md):
# 0.11 us a row of a scan, 2 us a row looked up from an index entry, 0.5 us a match sorted.
SCAN_COST = 1.0
LOOKUP_COST = 18.0
SORT_COST = 4.5

EQUALITY_OPS = frozenset({"exact"})
RANGE_OPS = frozenset({"gt", "gte", "lt", "lte", "between", "in"})
"""Operators an index can seek; after a range (or a list) no further index column is sought."""


@dataclass(frozen=True)
class Route:
    """One way to read the page: the index columns it seeks, and whether it reads in sort order.

    `index` is () for the table itself, read in rowid order.
    """

    index: tuple[str, ...]
    sought: tuple[str, ...]
    ordered: bool
    access: Access


def _by_column(filters: Sequence[Filter]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for f in filters:
        found.setdefault(f.column, set()).add(f.op)
    return found


def _sought(index: tuple[str, ...], ops: Mapping[str, set[str]]) -> tuple[tuple[str, ...], int]:
    """The leading columns of an index the filters seek, and how many of them by equality."""
    sought: list[str] = []
    equal = 0
    for column in index:
        used = ops.get(column, set())
        if used & EQUALITY_OPS:
            sought.append(column)
            equal += 1
            continue
        if used & RANGE_OPS:
            sought.append(column)
        break
    return tuple(sought), equal


def _ordered(rest: Sequence[str], query: RowQuery) -> bool:
    """Whether index columns `rest` (the rowid last) give the rows in the query's sort order.

    The first sort key decides: an index walked forward or backward along it gives the rows in
    its order, and SQLite sorts each run of equal values by the later keys as it goes (a
    "temp b-tree for the right part"), so a walk still stops once the page is complete.
    """
    return bool(query.sort) and rest[0] == query.sort[0].column


def routes(spec: TableSpec, query: RowQuery) -> list[Route]:
    """Every way worth pricing: each index the filters seek or the sort follows, and the table.

    Empty when the table has no rowid (a key of one integer column) to read it in order by.
    """
    if len(spec.primary_key) != 1 or not is_rowid(spec.table.c[spec.primary_key[0]]):
        return []
    rowid = spec.primary_key[0]
    ops = _by_column(query.filters)
    found = [Route((), (), _ordered([rowid], query), frozenset({rowid}))]
    for index in spec.indexes:
        sought, equal = _sought(index, ops)
        rest = [*index[equal:], rowid]
        ordered = _ordered(rest, query)
        if not sought and not ordered:
            continue
        used = set(sought)
        if ordered:
            used |= {key.column for key in query.sort}
        found.append(Route(index, sought, ordered, frozenset(used)))
    return found


def sought_query(query: RowQuery, route: Route) -> RowQuery:
    """The query of the rows a route's index range holds: the filters on its sought columns."""
    return replace(query, filters=tuple(f for f in query.filters if f.column in route.sought))


def cost(route: Route, *, rows: int, matches: int, size: int | None) -> float:
    """The estimated CPU of reading a page along `route`, whose range holds `rows` rows.

    :param size: the rows of the page; None for every matching row (an export).
    """
    per_row = SCAN_COST if not route.index else LOOKUP_COST
    if route.ordered:
        read = float(rows) if size is None else min(rows, (size + 1) * rows / max(matches, 1))
        return read * per_row
    return rows * per_row + matches * SORT_COST


@dataclass(frozen=True)
class Choice:
    """The cheapest route's access and its estimated cost (in SCAN_COST units, about 0.1 us)."""

    access: Access
    cost: float


def cheapest(
    candidates: Sequence[Route], held: Sequence[int], *, matches: int, size: int | None
) -> Choice:
    """The route of least estimated cost; `held[i]` is the rows route `i`'s range holds."""
    priced = [
        (cost(route, rows=rows, matches=matches, size=size), position)
        for position, (route, rows) in enumerate(zip(candidates, held, strict=True))
    ]
    least, position = min(priced)
    return Choice(candidates[position].access, least)


async def cheapest_access(
    spec: TableSpec,
    query: RowQuery,
    count: Callable[[RowQuery], Awaitable[int]],
    *,
    size: int | None,
) -> Choice | None:
    """How the rows of `query` are read most cheaply, or None to leave it to SQLite's planner.

    :param count: the exact number of rows a query matches; called for `query` and for each
        route's range, which the rollup counts (None unless it covers every filter).
    :param size: the rows of the page; None for every matching row.
    """
    if not counted_by_rollup(spec, query):
        return None
    candidates = routes(spec, query)
    if not candidates:
        return None
    matches = await count(query)
    held = [await count(sought_query(query, route)) for route in candidates]
    return cheapest(candidates, held, matches=matches, size=size)
