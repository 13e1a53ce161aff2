"""Parsed queries and their page SQL, remembered per table and query string.

Parsing and building are pure functions of the table and the query string, and the same URLs
come back again and again (links, dashboards, pages of a report), so the page route keeps the
last results instead of redoing them: a few hundred microseconds of a request of about a
millisecond. Only queries that parse are remembered; errors are computed every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.lru import LockedLRU
from api.model import TableSpec
from api.query.build import Plan, build_select
from api.query.grammar import MAX_FACETS, RowQuery, parse_row_query

PREPARED_SIZE = 1024


PREPARED: LockedLRU[tuple[Any, ...], tuple[TableSpec, RowQuery, Plan]] = LockedLRU(PREPARED_SIZE)
"""(spec, query, plan) keyed by table name, query string and page-size limits."""


def prepare_page(
    spec: TableSpec,
    params: Sequence[tuple[str, str]],
    *,
    default_size: int,
    max_size: int,
    fmt: str = "json",
    max_facets: int = MAX_FACETS,
) -> tuple[RowQuery, Plan]:
    """Parse a rows query string and build its page select (`size + 1` rows, values as stored)."""
    key = (spec.table.name, tuple(params), default_size, max_size, fmt, max_facets)
    found = PREPARED.get(key)
    # The spec itself must match: a table name alone may be reused by another database.
    if found is not None and found[0] is spec:
        return found[1], found[2]
    query = parse_row_query(
        spec, params, default_size=default_size, max_size=max_size, fmt=fmt, max_facets=max_facets
    )
    plan = build_select(spec, query, limit=query.size + 1, stored=True)
    PREPARED.put(key, (spec, query, plan))
    return query, plan
