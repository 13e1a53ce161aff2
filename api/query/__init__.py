"""The pure query core of the rows API: read a query string, build its SQL, page with cursors."""

from api.query.build import Plan, build_count, build_facet, build_row, build_select
from api.query.cursor import SortKey, decode_cursor, encode_cursor
from api.query.grammar import Filter, RowQuery, parse_key, parse_row_query
from api.query.operators import (
    CONTROLS,
    OPERATORS,
    Control,
    Operator,
    describe_control,
    operators_for,
)
from api.query.prepared import prepare_page

__all__ = [
    "CONTROLS",
    "OPERATORS",
    "Control",
    "Filter",
    "Operator",
    "Plan",
    "RowQuery",
    "SortKey",
    "build_count",
    "build_facet",
    "build_row",
    "build_select",
    "decode_cursor",
    "describe_control",
    "encode_cursor",
    "operators_for",
    "parse_key",
    "parse_row_query",
    "prepare_page",
]
