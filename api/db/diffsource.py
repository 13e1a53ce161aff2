"""Loaded resources as primary-key-ordered row streams, and the diff of two loaded releases.

The merge-join in `api.diff.rows` walks two releases side by side, so both streams must be in the
order Python gives their keys. Numbers, dates and booleans sort alike everywhere; text key columns
are sorted and compared by code point, whatever collation the column has: `COLLATE "C"` on
PostgreSQL, `COLLATE BINARY` on SQLite.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from api.db.budget import QueryBudget
from api.db.engine import time_limited
from api.db.releases import Catalog, LoadedRelease
from api.db.rows import RESULTS
from api.diff.release import ReleaseDiff, diff_releases
from api.diff.rows import RowChange, RowCounts, diff_rows, tally
from api.diff.shapes import ReleaseShape, ResourcePair, release_shape
from api.errors import BadQuery, ParamError
from api.model import TableSpec
from api.query.cursor import (
    CURSOR_PARAM,
    SortKey,
    decode_cursor,
    encode_cursor,
    keyset_predicate,
)

STREAM_BATCH = 2_000
Row = dict[str, Any]


CODE_POINT_COLLATIONS = {"postgresql": "C", "sqlite": "BINARY"}
"""The collation that sorts text by code point on each backend, as Python sorts strings."""


def key_order(spec: TableSpec, dialect: str) -> list[sa.ColumnElement[Any]]:
    """The primary-key columns as sorted and compared: text in code-point order."""
    collation = CODE_POINT_COLLATIONS.get(dialect)
    ordered: list[sa.ColumnElement[Any]] = []
    for name in spec.primary_key:
        column = spec.table.c[name]
        text = collation is not None and isinstance(column.type, sa.String)
        ordered.append(column.collate(collation) if text and collation else column)
    return ordered


def _bind_type(column: sa.Column[Any]) -> sa.types.TypeEngine[Any]:
    # Text is bound without the column's collation, which could clash with the explicit one.
    return sa.String() if isinstance(column.type, sa.String) else column.type


def _after_key(spec: TableSpec, dialect: str, after: Sequence[Any]) -> sa.ColumnElement[bool]:
    ordered = key_order(spec, dialect)
    columns = [spec.table.c[name] for name in spec.primary_key]
    bound = [
        sa.bindparam(f"after_{i}", value, type_=_bind_type(column), unique=True)
        for i, (column, value) in enumerate(zip(columns, after, strict=True))
    ]
    return keyset_predicate(
        len(columns), lambda j: columns[j] == bound[j], lambda p: ordered[p] > bound[p]
    )


def ordered_select(
    spec: TableSpec, dialect: str, after: Sequence[Any] | None = None
) -> sa.Select[Any]:
    """Every row in primary-key order, or those whose key sorts after `after`."""
    select = sa.select(spec.table).order_by(*key_order(spec, dialect))
    if after is not None:
        select = select.where(_after_key(spec, dialect, after))
    return select


def ordered_rows(
    connection: sa.Connection,
    spec: TableSpec,
    *,
    budget: float | QueryBudget,
    after: Sequence[Any] | None = None,
) -> Generator[Row, None, None]:
    """Stream the rows of a loaded resource as dicts, in primary-key order.

    The query and each batch read from it run under the next limit of `budget`, as a FETCH from
    a PostgreSQL cursor does: a diff is all work, however slowly its rows leave.
    """
    select = ordered_select(spec, connection.dialect.name, after)
    names = spec.column_names
    with time_limited(connection, budget):
        # Options on the statement, not the connection: the SET of each later limit must not
        # run on a server-side cursor.
        result = connection.execute(
            select.execution_options(stream_results=True, yield_per=STREAM_BATCH)
        )
    try:
        while True:
            with time_limited(connection, budget):
                batch = result.fetchmany(STREAM_BATCH)
            for row in batch:
                yield dict(zip(names, row, strict=True))
            if len(batch) < STREAM_BATCH:  # a short batch is the last one
                return
    finally:
        result.close()


@dataclass(frozen=True)
class DiffPosition:
    """Where a page of a diff ends: a resource and the key of its last change shown."""

    resource: str
    key: tuple[Any, ...]

    @property
    def token(self) -> str:
        """The opaque `_next` cursor for this position."""
        return f"{self.resource}.{encode_cursor(self.key)}"


@dataclass(frozen=True)
class DiffPage:
    """One page of row changes, each with its resource name, and where the next page starts."""

    changes: tuple[tuple[str, RowChange], ...]
    next: DiffPosition | None


_Versions = tuple[str, str, str]  # package, older version, newer version


def _versions(diff: ReleaseDiff) -> _Versions:
    return diff.package, diff.from_version, diff.to_version


def _invalid_cursor(message: str) -> BadQuery:
    return BadQuery([ParamError(CURSOR_PARAM, "invalid-cursor", message)])


class LoadedDiffs:
    """Diffs between releases loaded in one database."""

    def __init__(self, engine: sa.Engine, catalog: Catalog, *, budget: QueryBudget) -> None:
        """:param budget: the time the diff's queries may take, each and together."""
        self.engine = engine
        self.catalog = catalog
        self.budget = budget

    def shape(self, release: LoadedRelease) -> ReleaseShape:
        """The release as the schema diff sees it (fields from the registry where not inline)."""
        info = release.info
        schemas: dict[str, Mapping[str, Any]] = {}
        for resource in info.descriptor.get("resources") or ():
            name = resource.get("name")
            if not isinstance(resource.get("schema"), Mapping) and name in release.tables:
                spec = self.catalog.table_spec(info.package, info.version, name)
                schemas[name] = {
                    "fields": [dict(f.descriptor) for f in spec.fields],
                    "primaryKey": list(spec.primary_key),
                }
        shape = release_shape(info.descriptor, schemas)
        return dataclasses.replace(shape, version=info.version)

    @contextmanager
    def _streams(
        self, versions: _Versions, resource: str, after: Sequence[Any] | None = None
    ) -> Iterator[tuple[Iterator[Row], Iterator[Row]]]:
        package, old, new = versions
        old_spec = self.catalog.table_spec(package, old, resource)
        new_spec = self.catalog.table_spec(package, new, resource)
        with self.engine.connect() as left, self.engine.connect() as right:
            old_rows = ordered_rows(left, old_spec, budget=self.budget, after=after)
            new_rows = ordered_rows(right, new_spec, budget=self.budget, after=after)
            try:
                yield old_rows, new_rows
            finally:
                old_rows.close()
                new_rows.close()

    def _count(self, versions: _Versions, pair: ResourcePair) -> RowCounts:
        with self._streams(versions, pair.name) as (old_rows, new_rows):
            return tally(old_rows, new_rows, key=pair.key, fields=pair.compared_fields)

    def diff(self, before: LoadedRelease, after: LoadedRelease) -> ReleaseDiff:
        """The diff of two loaded releases, computed once (releases never change)."""
        cache_key = ("diff", str(self.engine.url), before.content_hash, after.content_hash)
        cached = RESULTS.get(cache_key)
        if isinstance(cached, ReleaseDiff):
            return cached
        package = before.info.package
        versions = (package, before.info.version, after.info.version)
        found = diff_releases(
            package,
            self.shape(before),
            self.shape(after),
            lambda pair: self._count(versions, pair),
        )
        RESULTS.put(cache_key, found)
        return found

    def position(self, diff: ReleaseDiff, token: str, resource: str | None = None) -> DiffPosition:
        """Read a `_next` cursor of this diff; BadQuery when it is not one."""
        name, dot, rest = token.partition(".")
        item = diff.resource(name)
        if not dot or item is None or item.counts is None or resource not in (None, name):
            raise _invalid_cursor(
                "_next is not a cursor of this diff; start again from the first page."
            )
        spec = self.catalog.table_spec(diff.package, diff.to_version, name)
        return DiffPosition(name, decode_cursor(rest, spec, [SortKey(k) for k in item.pair.key]))

    def page(
        self,
        diff: ReleaseDiff,
        *,
        size: int,
        start: DiffPosition | None = None,
        resource: str | None = None,
    ) -> DiffPage:
        """Up to `size` row changes in (resource, key) order, after `start` when given."""
        found: list[tuple[str, RowChange]] = []
        started = start is None
        for item in diff.resources:
            if item.counts is None or resource not in (None, item.name):
                continue
            after: tuple[Any, ...] | None = None
            if not started:
                assert start is not None
                if item.name != start.resource:
                    continue
                started, after = True, start.key
            if not item.counts.changes:
                continue
            pair = item.pair
            with self._streams(_versions(diff), item.name, after) as (old_rows, new_rows):
                changes = diff_rows(old_rows, new_rows, key=pair.key, fields=pair.compared_fields)
                for change in changes:
                    found.append((item.name, change))
                    if len(found) > size:
                        break
            if len(found) > size:
                last_name, last = found[size - 1]
                return DiffPage(tuple(found[:size]), DiffPosition(last_name, last.key))
        return DiffPage(tuple(found), None)

    def open_stream(self, diff: ReleaseDiff, resource: str) -> Iterator[RowChange]:
        """Every row change of one compared resource; the first is read before returning."""
        item = diff.resource(resource)
        if item is None or item.counts is None:
            raise ValueError(f"the rows of {resource!r} are not compared in this diff")
        pair = item.pair
        stack = ExitStack()
        try:
            old_rows, new_rows = stack.enter_context(self._streams(_versions(diff), resource))
            changes = diff_rows(old_rows, new_rows, key=pair.key, fields=pair.compared_fields)
            first = next(changes, None)
        except BaseException:
            stack.close()
            raise

        def stream() -> Iterator[RowChange]:
            with stack:
                if first is not None:
                    yield first
                    yield from changes

        return stream()
