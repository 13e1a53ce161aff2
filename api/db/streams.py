"""Every matching row of a query, streamed from a server-side cursor: the exports."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from api.db.budget import QueryBudget
from api.db.engine import time_limited
from api.db.limiter import run_blocking
from api.db.stored import Decoder, stored_decoders
from api.model import FieldSpec, TableSpec
from api.query.build import build_select
from api.query.grammar import RowQuery
from api.query.scan import Access

STREAM_BATCH = 2_000


@dataclass(frozen=True)
class StoredRows:
    """Every matching row as the driver returns it, in batches, with how to decode each column.

    `decoders[i]` is None where the stored value already writes as its Table Schema text, else
    the function that turns it into the typed Python value.
    """

    columns: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    decoders: tuple[Decoder | None, ...]
    batches: Iterator[list[Sequence[Any]]]


def _field(spec: TableSpec, name: str) -> FieldSpec:
    found = spec.field(name)
    if found is None:
        raise ValueError(f"{name!r} is not a column of {spec.resource}")
    return found


class RowStreams:
    """The exports of one table spec against one engine (the base of `api.db.rows.RowReader`)."""

    engine: sa.Engine
    spec: TableSpec
    budget: QueryBudget

    async def _export_access(self, query: RowQuery) -> Access:  # noqa: ARG002 - see RowReader
        """Which indexes an export may use: all, as planned (`RowReader` judges it by counts)."""
        return False

    def _sources(self, query: RowQuery) -> list[tuple[TableSpec, tuple[str, ...]]]:
        """The tables the output columns come from, each with its columns, in output order."""
        return [(self.spec, query.columns)] + [(step.target, step.columns) for step in query.expand]

    def _decoders(self, query: RowQuery, *, text: bool) -> tuple[Decoder | None, ...]:
        """The stored decoders of every output column, the expanded ones by their own table."""
        dialect = self.engine.dialect
        return tuple(
            decoder
            for spec, columns in self._sources(query)
            for decoder in stored_decoders(spec, columns, dialect, text=text)
        )

    async def stream(self, query: RowQuery) -> tuple[tuple[str, ...], Iterator[tuple[Any, ...]]]:
        """Every matching row, from a server-side cursor; errors surface before the first byte."""
        plan = build_select(self.spec, query, limit=None, scan=await self._export_access(query))
        return plan.output_columns, await run_blocking(self.engine, self._open_stream, plan)

    async def stream_stored(self, query: RowQuery) -> StoredRows:
        """Every matching row as stored, in batches: for CSV, which decodes only what it must."""
        access = await self._export_access(query)
        plan = build_select(self.spec, query, limit=None, stored=True, scan=access)
        fields = tuple(
            _field(spec, name) for spec, columns in self._sources(query) for name in columns
        )
        decoders = self._decoders(query, text=True)
        open_raw = functools.partial(self._open_batches, raw=True)
        batches = await run_blocking(self.engine, open_raw, plan.select, len(fields))
        return StoredRows(plan.output_columns, fields, decoders, batches)

    def _open_stream(self, plan: Any) -> Iterator[tuple[Any, ...]]:
        width = len(plan.output_columns)
        batches = self._open_batches(plan.select, width)

        def rows() -> Iterator[tuple[Any, ...]]:
            for batch in batches:
                for row in batch:
                    yield tuple(row)

        return rows()

    def _open_batches(
        self, select: sa.Select[Any], width: int, *, raw: bool = False
    ) -> Iterator[list[Sequence[Any]]]:
        """Run the select on a server-side cursor; fail here, before the first batch is read.

        :param raw: after the first batch, read the driver's cursor directly (plain tuples, no
            result rows): for a select whose columns carry no result processing.
        """
        connection = self.engine.connect()
        try:
            # The time limit covers the query up to its first rows (a sort, a scan for the first
            # match); the rows after that stream for as long as the client reads them.
            with time_limited(connection, self.budget):
                result = connection.execution_options(
                    stream_results=True, yield_per=STREAM_BATCH
                ).execute(select)
                # The first batch goes through the result, which drains any row it prefetched.
                first = result.fetchmany(STREAM_BATCH)
        except BaseException:
            connection.close()
            raise
        trim = width < len(result.keys())
        fetch: Callable[[int], Sequence[Sequence[Any]]] = result.fetchmany
        if raw and len(first) == STREAM_BATCH:
            fetch = result.cursor.fetchmany

        def batches() -> Iterator[list[Sequence[Any]]]:
            try:
                batch: Sequence[Sequence[Any]] = first
                while batch:
                    yield [tuple(row[:width]) for row in batch] if trim else list(batch)
                    if len(batch) < STREAM_BATCH:  # a short batch is the last one
                        break
                    batch = fetch(STREAM_BATCH)
            finally:
                result.close()
                connection.close()

        return batches()
