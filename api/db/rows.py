"""Run row queries: short indexed pages inline, counts, facets and exports off the event loop."""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa

from api.db.budget import QueryBudget
from api.db.engine import PlanAbandoned, time_limited
from api.db.limiter import run_blocking
from api.db.stored import decode_row, typed_decoder
from api.db.streams import RowStreams
from api.errors import QueryTimeout
from api.lru import LockedLRU
from api.model import TableSpec
from api.query.access import cheapest_access
from api.query.build import (
    Plan,
    build_bounded_count,
    build_count,
    build_facet,
    build_row,
    build_select,
    counted_by_rollup,
)
from api.query.grammar import RowQuery
from api.query.scan import Access

T = TypeVar("T")

INLINE_MAX_ROWS = 50_000
INLINE_BUDGET_SECONDS = 0.02  # longest a page query may hold the event loop before moving off it
# CPU a query of a large SQLite table may spend in the plan SQLite chose before it is run again
# as a scan of the table (see `api.query.scan`): a scan of a million rows takes 30 to 60 ms.
PLANNED_CPU_SECONDS = 0.03
# A page the stored counts price under this (`api.query.access` units, about 0.1 us of CPU each,
# so about 2 ms) runs on the event loop, as an indexed page does.
INLINE_MAX_COST = 20_000
COUNT_CACHE_SIZE = 4_096
FACET_SIZE = 100  # values shown per facet; `facets_truncated` names the facets cut short


@dataclass(frozen=True)
class Page:
    """One JSON page of rows."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    next: str | None
    total: int | None
    total_is_exact: bool | None = None  # False: more than `total` rows match
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    truncated_facets: tuple[str, ...] = ()
    timed_out_facets: tuple[str, ...] = ()  # facets left out: counting them passed their limit


RESULTS: LockedLRU[tuple[Any, ...], Any] = LockedLRU(COUNT_CACHE_SIZE)
"""Counts and facets, which never change (releases are immutable)."""
CHOSEN: LockedLRU[tuple[Any, ...], tuple[Plan, bool]] = LockedLRU(COUNT_CACHE_SIZE)
"""The page select the stored counts chose for a query, and whether it runs inline."""


_DATABASES: weakref.WeakKeyDictionary[sa.Engine, str] = weakref.WeakKeyDictionary()


def _database(engine: sa.Engine) -> str:
    """The engine's URL as text, rendered once per engine (hashing a URL object is slow)."""
    found = _DATABASES.get(engine)
    if found is None:
        found = _DATABASES[engine] = engine.url.render_as_string(hide_password=False)
    return found


def _cache_key(
    kind: str, engine: sa.Engine, spec: TableSpec, query: RowQuery, *extra: str
) -> tuple[Any, ...]:
    return (kind, _database(engine), spec.table.name, query.filters_key, *extra)


def _all(connection: sa.Connection, select: sa.Select[Any]) -> list[Sequence[Any]]:
    return list(connection.execute(select).all())


def _all_stored(connection: sa.Connection, select: sa.Select[Any]) -> list[Sequence[Any]]:
    """All rows of a `stored` select, read from the driver's cursor as plain tuples."""
    result = connection.execute(select)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _one(connection: sa.Connection, select: sa.Select[Any]) -> Any:
    return connection.execute(select).scalar_one()


class RowReader(RowStreams):
    """Runs the queries of one table spec against one engine."""

    def __init__(
        self,
        engine: sa.Engine,
        spec: TableSpec,
        *,
        budget: QueryBudget,
        count_budget_rows: int | None = None,
    ) -> None:
        self.engine = engine
        self.spec = spec
        self.budget = budget
        self.count_budget_rows = count_budget_rows
        # Set once a query of this reader was abandoned for a scan: the rest of the request
        # (its count, its facets) has the same filters, and goes to the scan at once.
        self.scanning = False

    def _inline(self, query: RowQuery) -> bool:
        """Whether the page query is short enough to run on the event loop."""
        if self.spec.row_count <= INLINE_MAX_ROWS:
            return True
        columns = {f.column for f in query.filters} | {query.sort[0].column}
        return columns <= self.spec.indexed

    def _may_scan(self) -> bool:
        """Whether a slow plan is worth abandoning for a scan: a large table on SQLite."""
        return self.engine.dialect.name == "sqlite" and self.spec.row_count > INLINE_MAX_ROWS

    def _planned_or_scan(
        self,
        build: Callable[..., sa.Select[Any]],
        read: Callable[[sa.Connection, sa.Select[Any]], T],
        at_most: float | None = None,
    ) -> T:
        """Read `build(scan=False)`; past PLANNED_CPU_SECONDS, read `build(scan=True)` instead.

        :param build: the select, given `scan=` whether it must scan the table (the builders
            of `api.query.build` all take it).
        """
        if self._may_scan() and not self.scanning:
            with contextlib.suppress(PlanAbandoned):
                return self._run(build(scan=False), read, at_most, PLANNED_CPU_SECONDS)
            self.scanning = True
        return self._run(build(scan=self.scanning), read, at_most)

    def _run(
        self,
        select: sa.Select[Any],
        read: Callable[[sa.Connection, sa.Select[Any]], T],
        at_most: float | None = None,
        cpu_at_most: float | None = None,
    ) -> T:
        with (
            self.engine.connect() as connection,
            time_limited(connection, self.budget, at_most=at_most, cpu_at_most=cpu_at_most),
        ):
            return read(connection, select)

    def _fetch_stored(
        self, select: sa.Select[Any], at_most: float | None = None
    ) -> list[Sequence[Any]]:
        """All rows of a `stored` select, read from the driver's cursor as plain tuples."""
        return self._run(select, _all_stored, at_most)

    async def _chosen_page(self, query: RowQuery) -> tuple[Plan, bool] | None:
        """The page select the stored counts choose, and whether it is cheap enough to run
        inline; None where they cannot judge. Remembered per table and query."""
        if not self._may_scan():
            return None
        key: tuple[Any, ...] | None = (
            "chosen",
            _database(self.engine),
            self.spec.table.name,
            query,
        )
        try:
            hash(key)
        except TypeError:  # a value that cannot be a key (an expanded table's spec): not kept
            key = None
        found = None if key is None else CHOSEN.get(key)
        if found is None:
            choice = await cheapest_access(self.spec, query, self.count, size=query.size)
            if choice is None:
                return None
            limit = query.size + 1
            plan = build_select(self.spec, query, limit=limit, stored=True, scan=choice.access)
            found = (plan, choice.cost <= INLINE_MAX_COST)
            if key is not None:
                CHOSEN.put(key, found)
        return found

    async def _export_access(self, query: RowQuery) -> Access:
        """Which indexes an export may use: the stored counts' choice on a large SQLite table."""
        choice = None
        if self._may_scan():
            choice = await cheapest_access(self.spec, query, self.count, size=None)
        return False if choice is None else choice.access

    async def _read_chosen(self, plan: Plan, *, inline: bool) -> list[Sequence[Any]]:
        """The rows of a page select the stored counts chose; inline if it is priced cheap."""
        if inline:
            with contextlib.suppress(QueryTimeout):
                return self._fetch_stored(plan.select, at_most=INLINE_BUDGET_SECONDS)
        return await run_blocking(self.engine, self._fetch_stored, plan.select)

    async def _read_planned(self, query: RowQuery, plan: Plan) -> list[Sequence[Any]]:
        """The rows of a page select as SQLite or PostgreSQL plans it (a scan past its budget)."""
        if self._inline(query):
            # An indexed page takes well under a millisecond; one the plan makes slow (a sort it
            # cannot read from an index, a scan) is stopped early and moved off the event loop.
            with contextlib.suppress(QueryTimeout):
                return self._fetch_stored(plan.select, at_most=INLINE_BUDGET_SECONDS)
        planned = plan.select

        def build(*, scan: bool) -> sa.Select[Any]:
            if not scan:
                return planned
            return build_select(
                self.spec, query, limit=query.size + 1, stored=True, scan=True
            ).select

        return await run_blocking(self.engine, self._planned_or_scan, build, _all_stored)

    async def page(self, query: RowQuery, plan: Plan | None = None) -> Page:
        """A page of rows with its cursor, total and facets.

        :param plan: the page select of `query` (built with `stored=True`) if the caller has it.
        """
        chosen = await self._chosen_page(query)
        if chosen is not None:
            # The stored counts tell which index reads least (`api.query.access`).
            plan, inline = chosen
            fetched = await self._read_chosen(plan, inline=inline)
        else:
            if plan is None:
                plan = build_select(self.spec, query, limit=query.size + 1, stored=True)
            fetched = await self._read_planned(query, plan)
        rows, following = plan.page(fetched, query.size, typed=self._cursor_decoder(plan))
        decoders = self._decoders(query, text=False)
        if any(decoders):
            rows = [decode_row(row, decoders) for row in rows]
        total, exact = await self.page_total(query)
        facets: dict[str, list[dict[str, Any]]] = {}
        truncated: list[str] = []
        timed_out: list[str] = []
        for name in query.facets:
            try:
                values = await self.facet(query, name)
            except QueryTimeout:
                # As Datasette's facet_time_limit_ms: the page is answered without the facet.
                timed_out.append(name)
                continue
            if len(values) > FACET_SIZE:
                truncated.append(name)
            facets[name] = values[:FACET_SIZE]
        return Page(
            columns=plan.output_columns,
            rows=rows,
            next=following,
            total=total,
            total_is_exact=exact,
            facets=facets,
            truncated_facets=tuple(truncated),
            timed_out_facets=tuple(timed_out),
        )

    def _cursor_decoder(self, plan: Plan) -> Callable[[Sequence[Any]], Sequence[Any]]:
        """Typed values of the sort columns of a stored row: what a cursor carries."""
        dialect = self.engine.dialect

        def typed(row: Sequence[Any]) -> Sequence[Any]:
            values = list(row)
            for name, position in zip(plan.cursor_columns, plan.cursor_positions, strict=True):
                if values[position] is not None:
                    values[position] = typed_decoder(self.spec, name, dialect)(values[position])
            return values

        return typed

    async def page_total(self, query: RowQuery) -> tuple[int | None, bool | None]:
        """The total of a page as `_count` asks, and whether it is exact (None: not counted).

        A bounded count stops at `count_budget_rows`: past it the total is that number, a lower
        bound (more than it match), so a page of a large selection does not wait for its count.
        A count the table's rollup gives is exact at no such cost.
        """
        if query.count == "none":
            return None, None
        cap = self.count_budget_rows
        if query.count == "exact" or cap is None or counted_by_rollup(self.spec, query):
            return await self.count(query), True
        key = _cache_key("bounded", self.engine, self.spec, query, str(cap))
        cached = RESULTS.get(key)
        if cached is None:
            counted, exact = await self.count_at_most(query, cap + 1)
            cached = (counted, True) if exact else (cap, False)
            if exact:
                RESULTS.put(_cache_key("count", self.engine, self.spec, query), counted)
            RESULTS.put(key, cached)
        return cached[0], cached[1]

    async def count(self, query: RowQuery, at_most: float | None = None) -> int:
        """The number of rows matching the filters (cached: releases never change).

        :param at_most: a shorter time limit for this count than the query limit.
        """
        if not query.filters:
            return self.spec.row_count
        key = _cache_key("count", self.engine, self.spec, query)
        cached = RESULTS.get(key)
        if cached is None:
            build = functools.partial(build_count, self.spec, query)
            counted = await run_blocking(self.engine, self._planned_or_scan, build, _one, at_most)
            cached = int(counted)
            RESULTS.put(key, cached)
        return int(cached)

    async def count_at_most(self, query: RowQuery, bound: int) -> tuple[int, bool]:
        """The number of matching rows, counted no further than `bound`; and whether it is exact.

        An unfiltered or already counted selection gives its exact total at no cost; otherwise the
        database stops reading at `bound` rows, so a refusal of a large selection stays cheap.
        """
        if not query.filters:
            return self.spec.row_count, True
        cached = RESULTS.get(_cache_key("count", self.engine, self.spec, query))
        if cached is not None:
            return int(cached), True
        if counted_by_rollup(self.spec, query):
            return await self.count(query), True
        build = functools.partial(build_bounded_count, self.spec, query, bound)
        counted = int(await run_blocking(self.engine, self._planned_or_scan, build, _one))
        return counted, counted < bound

    async def facet(self, query: RowQuery, column: str) -> list[dict[str, Any]]:
        """Value counts of a column under the filters, most common first (one more than shown)."""
        key = _cache_key("facet", self.engine, self.spec, query, column)
        cached = RESULTS.get(key)
        if cached is None:
            build = functools.partial(build_facet, self.spec, query, column, limit=FACET_SIZE + 1)
            limit = self.budget.facet_seconds
            rows = await run_blocking(self.engine, self._planned_or_scan, build, _all, limit)
            cached = [{"value": value, "count": count} for value, count in rows]
            RESULTS.put(key, cached)
        return list(cached)

    async def one(self, key_values: Sequence[Any]) -> dict[str, Any] | None:
        """The row with this primary key, or None."""
        rows = self._run(build_row(self.spec, key_values), _all)
        if not rows:
            return None
        return dict(zip(self.spec.column_names, rows[0], strict=True))
