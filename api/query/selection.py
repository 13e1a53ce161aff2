"""What part of a table a query selects, named: saved files say whether they hold all of it."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from api.model import TableSpec
from api.query.grammar import Filter, RowQuery
from api.query.operators import OPERATORS

DIGEST_LENGTH = 8  # hex digits of the selection's hash in a file name


def _canonical_value(given: Filter) -> Any:
    """A filter's value in a form that does not depend on how the query string spelled it."""
    if OPERATORS[given.op].kind == "list":  # `in` and `notin` are sets of values
        return sorted(given.value, key=lambda value: orjson.dumps(value, default=str))
    return given.value


def selection_digest(spec: TableSpec, query: RowQuery) -> str | None:
    """A short hash of the rows and columns a query selects; None when it selects the whole table.

    The hash is of the query as read, not as written: filters in stored form and sorted, the
    values of `in` and `notin` sorted, the columns in schema order. So `a=1&b=2` and `b=2&a=1`,
    `x=1` and `x__exact=1`, `_col=a,b` and `_col=b&_col=a` have the same digest. The columns
    include those `_expand` adds, so a file with them is never named as the table alone. Sorting
    and paging controls do not change which rows and columns are selected and are not part of it.
    """
    output = query.output_columns
    columns = None if output == spec.column_names else list(output)
    if not query.filters and columns is None:
        return None
    filters = sorted(
        ([f.column, f.op, _canonical_value(f)] for f in query.filters),
        key=lambda entry: orjson.dumps(entry, default=str),
    )
    canonical = orjson.dumps({"filters": filters, "columns": columns}, default=str)
    return hashlib.sha256(canonical).hexdigest()[:DIGEST_LENGTH]


def download_filename(spec: TableSpec, query: RowQuery, fmt: str) -> str:
    """The name a saved file gets: `{package}-{version}-{resource}[-filtered-{digest}].{fmt}`."""
    stem = f"{spec.package}-{spec.version}-{spec.resource}"
    digest = selection_digest(spec, query)
    if digest is not None:
        stem += f"-filtered-{digest}"
    return f"{stem}.{fmt}"
