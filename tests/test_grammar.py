"""The rows query grammar as tables of cases: query string -> RowQuery, or -> every error."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from api.errors import BadQuery, NotFound
from api.fieldtypes import ALL_TYPES
from api.model import TableSpec
from api.query import (
    CONTROLS,
    OPERATORS,
    Filter,
    RowQuery,
    SortKey,
    build_select,
    describe_control,
    encode_cursor,
    operators_for,
    parse_key,
    parse_row_query,
    prepare_page,
)
from tests.helpers import table_spec

FIELDS: list[dict[str, Any]] = [
    {"name": "country", "type": "string"},
    {"name": "as_of", "type": "date"},
    {"name": "detained", "type": "integer"},
    {"name": "rate", "type": "number"},
    {"name": "status", "type": "string", "constraints": {"enum": ["open", "closed", "pending"]}},
    {"name": "verified", "type": "boolean"},
    {"name": "reported_at", "type": "datetime"},
    {"name": "year", "type": "year"},
    {"name": "month", "type": "yearmonth"},
    {"name": "day_first", "type": "date", "format": "%d/%m/%Y"},
    {"name": "note", "type": "string"},
    {"name": "source__url", "type": "string"},
    {"name": "location", "type": "geopoint"},
]
SPEC = table_spec(FIELDS, ["country", "as_of"], name="events")
ALL_COLUMNS = tuple(f["name"] for f in FIELDS)
PK_SORT = (SortKey("country"), SortKey("as_of"))
BASE = RowQuery(filters=(), sort=PK_SORT, columns=ALL_COLUMNS, size=100)


def parse(params: list[tuple[str, str]], spec: TableSpec = SPEC) -> RowQuery:
    """Parse for a JSON page, or for CSV when the query holds CSV controls."""
    fmt = "csv" if any(key in ("_bom", "_delimiter") for key, _ in params) else "json"
    return parse_row_query(spec, params, default_size=100, max_size=1000, fmt=fmt)


def errors_of(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    with pytest.raises(BadQuery) as raised:
        parse(params)
    return [(e.param, e.code) for e in raised.value.errors]


def f(column: str, op: str, value: Any) -> tuple[Filter, ...]:
    return (Filter(column, op, value),)


CURSOR = encode_cursor([5, "KH", date(2025, 7, 1)])

PARSE_CASES: list[tuple[list[tuple[str, str]], RowQuery]] = [
    ([], BASE),
    ([("country", "KH")], replace(BASE, filters=f("country", "exact", "KH"))),
    ([("country__exact", "KH")], replace(BASE, filters=f("country", "exact", "KH"))),
    ([("country__not", "KH")], replace(BASE, filters=f("country", "not", "KH"))),
    ([("detained__gt", "10")], replace(BASE, filters=f("detained", "gt", 10))),
    ([("detained__gte", "-3")], replace(BASE, filters=f("detained", "gte", -3))),
    ([("rate__lt", "1.5")], replace(BASE, filters=f("rate", "lt", 1.5))),
    ([("rate__lte", "1e3")], replace(BASE, filters=f("rate", "lte", 1000.0))),
    ([("note__gt", "m")], replace(BASE, filters=f("note", "gt", "m"))),
    (
        [("as_of__between", "2025-07-01..2025-07-31")],
        replace(BASE, filters=f("as_of", "between", (date(2025, 7, 1), date(2025, 7, 31)))),
    ),
    (
        [("as_of__between", "2025-07-01..")],
        replace(BASE, filters=f("as_of", "between", (date(2025, 7, 1), None))),
    ),
    (
        [("as_of__between", "..2025-07-31")],
        replace(BASE, filters=f("as_of", "between", (None, date(2025, 7, 31)))),
    ),
    (
        [("rate__between", "0.5..0.5")],
        replace(BASE, filters=f("rate", "between", (0.5, 0.5))),
    ),
    (
        [("day_first", "31/07/2025")],
        replace(BASE, filters=f("day_first", "exact", date(2025, 7, 31))),
    ),
    (
        [("status__in", "open,closed")],
        replace(BASE, filters=f("status", "in", ("open", "closed"))),
    ),
    ([("status__notin", "pending")], replace(BASE, filters=f("status", "notin", ("pending",)))),
    ([("note__in", '["a,b","c"]')], replace(BASE, filters=f("note", "in", ("a,b", "c")))),
    ([("detained__in", "[1, 2]")], replace(BASE, filters=f("detained", "in", (1, 2)))),
    ([("detained__in", "1,2,3")], replace(BASE, filters=f("detained", "in", (1, 2, 3)))),
    ([("note__contains", "50%_")], replace(BASE, filters=f("note", "contains", "50%_"))),
    ([("note__icontains", "Scam")], replace(BASE, filters=f("note", "icontains", "Scam"))),
    ([("note__startswith", "Ph")], replace(BASE, filters=f("note", "startswith", "Ph"))),
    ([("note__endswith", "nh")], replace(BASE, filters=f("note", "endswith", "nh"))),
    ([("note__isnull", "1")], replace(BASE, filters=f("note", "isnull", True))),
    ([("note__isnull", "false")], replace(BASE, filters=f("note", "isnull", False))),
    ([("note__notnull", "TRUE")], replace(BASE, filters=f("note", "notnull", True))),
    ([("location__notnull", "0")], replace(BASE, filters=f("location", "notnull", False))),
    ([("verified", "true")], replace(BASE, filters=f("verified", "exact", True))),
    ([("verified__not", "0")], replace(BASE, filters=f("verified", "not", False))),
    (
        [("reported_at__gte", "2025-07-01T10:00:00+07:00")],
        replace(BASE, filters=f("reported_at", "gte", datetime(2025, 7, 1, 3, 0))),
    ),
    (
        [("reported_at__lt", "2025-07-01T10:00:00")],
        replace(BASE, filters=f("reported_at", "lt", datetime(2025, 7, 1, 10, 0))),
    ),
    ([("year", "2025")], replace(BASE, filters=f("year", "exact", 2025))),
    ([("month__gte", "2025-07")], replace(BASE, filters=f("month", "gte", "2025-07"))),
    ([("source__url", "x")], replace(BASE, filters=f("source__url", "exact", "x"))),
    (
        [("source__url__startswith", "https:")],
        replace(BASE, filters=f("source__url", "startswith", "https:")),
    ),
    (
        [("detained__gt", "1"), ("detained__lt", "9"), ("country", "KH")],
        replace(
            BASE,
            filters=(
                Filter("detained", "gt", 1),
                Filter("detained", "lt", 9),
                Filter("country", "exact", "KH"),
            ),
        ),
    ),
    (
        [("_sort", "-detained,rate")],
        replace(BASE, sort=(SortKey("detained", True), SortKey("rate"), *PK_SORT)),
    ),
    (
        [("_sort", "-detained"), ("_sort", "rate")],
        replace(BASE, sort=(SortKey("detained", True), SortKey("rate"), *PK_SORT)),
    ),
    ([("_sort", "-as_of")], replace(BASE, sort=(SortKey("as_of", True), SortKey("country")))),
    ([("_sort", "verified")], replace(BASE, sort=(SortKey("verified"), *PK_SORT))),
    ([("_col", "detained,country")], replace(BASE, columns=("country", "detained"))),
    ([("_col", "status"), ("_col", "as_of")], replace(BASE, columns=("as_of", "status"))),
    ([("_col", "note,note")], replace(BASE, columns=("note",))),
    (
        [("_nocol", "location,note"), ("_nocol", "month")],
        replace(
            BASE, columns=tuple(c for c in ALL_COLUMNS if c not in {"location", "note", "month"})
        ),
    ),
    ([("_col", "note,rate"), ("_nocol", "note")], replace(BASE, columns=("rate",))),
    ([("_size", "5")], replace(BASE, size=5)),
    ([("_size", "1000")], replace(BASE, size=1000)),
    ([("_count", "none")], replace(BASE, count="none")),
    ([("_count", "exact")], replace(BASE, count="exact")),
    (
        [("_facet", "status"), ("_facet", "country,status")],
        replace(BASE, facets=("status", "country")),
    ),
    ([("_bom", "1"), ("_dl", "1")], replace(BASE, bom=True, download=True)),
    ([("_bom", "0"), ("_dl", "false")], BASE),
    ([("_delimiter", ";")], replace(BASE, delimiter=";")),
    ([("_delimiter", "\t")], replace(BASE, delimiter="\t")),
    ([("_delimiter", "\\t")], replace(BASE, delimiter="\t")),
    ([("_delimiter", "tab")], replace(BASE, delimiter="\t")),
    (
        [("_sort", "-detained"), ("_next", CURSOR)],
        replace(
            BASE,
            sort=(SortKey("detained", True), *PK_SORT),
            after=(5, "KH", date(2025, 7, 1)),
        ),
    ),
    (
        [("_sort", "rate"), ("_next", encode_cursor([None, "KH", date(2025, 7, 1)]))],
        replace(BASE, sort=(SortKey("rate"), *PK_SORT), after=(None, "KH", date(2025, 7, 1))),
    ),
]


def test_repeated_in_lists_of_a_column_join_into_one() -> None:
    """As generated clients send a list: `x__in=a&x__in=b` is `x__in=a,b`, each value once."""
    params = [("country__in", "KH,TH"), ("detained__gt", "3"), ("country__in", "VN,KH")]
    assert parse(params).filters == (
        Filter("country", "in", ("KH", "TH", "VN")),
        Filter("detained", "gt", 3),
    )
    other = parse([("country__in", "KH"), ("status__in", "open"), ("country__notin", "TH")])
    assert other.filters == (
        Filter("country", "in", ("KH",)),
        Filter("status", "in", ("open",)),
        Filter("country", "notin", ("TH",)),
    )


@pytest.mark.parametrize(("params", "expected"), PARSE_CASES)
def test_parse(params: list[tuple[str, str]], expected: RowQuery) -> None:
    assert parse(params) == expected


ERROR_CASES: list[tuple[list[tuple[str, str]], list[tuple[str, str]]]] = [
    ([("nope", "1")], [("nope", "unknown-column")]),
    ([("nope__gt", "1")], [("nope__gt", "unknown-column")]),
    ([("detained__foo", "1")], [("detained__foo", "unknown-operator")]),
    ([("detained__contains", "1")], [("detained__contains", "operator-not-for-type")]),
    ([("verified__gt", "true")], [("verified__gt", "operator-not-for-type")]),
    ([("location", "1,2")], [("location", "operator-not-for-type")]),
    ([("month__icontains", "07")], [("month__icontains", "operator-not-for-type")]),
    ([("detained", "ten")], [("detained", "invalid-value")]),
    ([("detained", "")], [("detained", "invalid-value")]),
    ([("detained", "1.5")], [("detained", "invalid-value")]),
    ([("detained", "9223372036854775808")], [("detained", "invalid-value")]),
    ([("detained__gte", "-9223372036854775809")], [("detained__gte", "invalid-value")]),
    ([("country", "K\x00H")], [("country", "invalid-value")]),
    ([("note__contains", "\x00")], [("note__contains", "invalid-value")]),
    (
        [("_sort", "detained"), ("_next", encode_cursor([2**63, "KH", date(2025, 7, 1)]))],
        [("_next", "invalid-cursor")],
    ),
    ([("as_of", "2025-02-30")], [("as_of", "invalid-value")]),
    ([("day_first", "2025-07-31")], [("day_first", "invalid-value")]),
    ([("reported_at", "2025-07-01")], [("reported_at", "invalid-value")]),
    ([("month", "2025-13")], [("month", "invalid-value")]),
    ([("verified", "yes")], [("verified", "invalid-value")]),
    ([("status", "shut")], [("status", "not-in-enum")]),
    (
        [("status__in", "open,shut,gone")],
        [("status__in", "not-in-enum"), ("status__in", "not-in-enum")],
    ),
    (
        [("detained__in", "1,x,")],
        [("detained__in", "invalid-value"), ("detained__in", "invalid-value")],
    ),
    ([("detained__in", "[1, null]")], [("detained__in", "invalid-value")]),
    ([("detained__in", "[]")], [("detained__in", "invalid-value")]),
    ([("detained__in", "[1,")], [("detained__in", "invalid-value")]),
    ([("detained__in", ",".join(["1"] * 1001))], [("detained__in", "invalid-value")]),
    ([("detained__in", str(list(range(1001))))], [("detained__in", "invalid-value")]),
    ([("as_of__between", "2025-07-31..2025-07-01")], [("as_of__between", "invalid-value")]),
    ([("as_of__between", "..")], [("as_of__between", "invalid-value")]),
    ([("as_of__between", "2025-07-01")], [("as_of__between", "invalid-value")]),
    ([("as_of__between", "2025-07-01..x")], [("as_of__between", "invalid-value")]),
    ([("note__isnull", "yes")], [("note__isnull", "invalid-value")]),
    ([("note__contains", "")], [("note__contains", "invalid-value")]),
    ([("_foo", "1")], [("_foo", "unknown-parameter")]),
    ([("_country", "KH")], [("_country", "unknown-parameter")]),
    ([("_size", "1001")], [("_size", "invalid-size")]),
    ([("_size", "-1")], [("_size", "invalid-size")]),
    ([("_size", "ten")], [("_size", "invalid-size")]),
    ([("_size", "5"), ("_size", "6")], [("_size", "duplicate-parameter")]),
    ([("_count", "none"), ("_count", "none")], [("_count", "duplicate-parameter")]),
    ([("_count", "maybe")], [("_count", "invalid-control")]),
    ([("_bom", "2")], [("_bom", "invalid-control")]),
    ([("_delimiter", "|")], [("_delimiter", "invalid-control")]),
    ([("_dl", "yes")], [("_dl", "invalid-control")]),
    ([("_sort", "nope")], [("_sort", "unknown-column")]),
    ([("_sort", "")], [("_sort", "unknown-column")]),
    ([("_sort", "location")], [("_sort", "invalid-control")]),
    ([("_sort", "rate,-rate")], [("_sort", "invalid-control")]),
    ([("_col", "nope")], [("_col", "unknown-column")]),
    ([("_nocol", ",".join(ALL_COLUMNS))], [("_nocol", "invalid-control")]),
    ([("_facet", "location")], [("_facet", "invalid-control")]),
    ([("_facet", "nope")], [("_facet", "unknown-column")]),
    ([("_next", "")], [("_next", "invalid-cursor")]),
    ([("_next", "not a cursor")], [("_next", "invalid-cursor")]),
    ([("_next", "bm90IGpzb24")], [("_next", "invalid-cursor")]),  # base64 of "not json"
    ([("_next", encode_cursor(["KH"]))], [("_next", "invalid-cursor")]),
    ([("_next", encode_cursor(["KH", "2025-07-01"]))], [("_next", "invalid-cursor")]),
    ([("_next", encode_cursor([1, date(2025, 7, 1)]))], [("_next", "invalid-cursor")]),
    ([("_next", encode_cursor(["KH", datetime(2025, 7, 1)]))], [("_next", "invalid-cursor")]),
    ([("_next", CURSOR)], [("_next", "invalid-cursor")]),  # issued under another sort
    ([("_next", "x" * 5000)], [("_next", "invalid-cursor")]),
    (
        [
            ("_sort", "-nope"),
            ("detained", "many"),
            ("status__in", "open,shut"),
            ("_size", "-1"),
            ("nope__gt", "1"),
            ("rate__foo", "1"),
            ("_dl", "1"),
            ("note__between", "a.."),
            ("verified__lt", "1"),
            ("_whatever", ""),
            ("_col", "country,zz"),
            ("_dl", "1"),
        ],
        [
            ("_sort", "unknown-column"),
            ("detained", "invalid-value"),
            ("status__in", "not-in-enum"),
            ("_size", "invalid-size"),
            ("nope__gt", "unknown-column"),
            ("rate__foo", "unknown-operator"),
            ("_dl", "duplicate-parameter"),
            ("verified__lt", "operator-not-for-type"),
            ("_whatever", "unknown-parameter"),
            ("_col", "unknown-column"),
        ],
    ),
]


@pytest.mark.parametrize(("params", "expected"), ERROR_CASES)
def test_errors(params: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    assert errors_of(params) == expected


def test_error_messages_name_the_column_the_type_and_the_allowed_values() -> None:
    with pytest.raises(BadQuery) as raised:
        parse(
            [
                ("detained__contains", "1"),
                ("status", "shut"),
                ("as_of", "July"),
                ("day_first", "2025-07-01"),
                ("_count", "maybe"),
                ("_size", "5000"),
            ]
        )
    assert [e.as_dict() for e in raised.value.errors] == [
        {
            "param": "detained__contains",
            "code": "operator-not-for-type",
            "message": "Operator 'contains' does not apply to column 'detained' of type integer;"
            " its operators are: exact, not, gt, gte, lt, lte, between, in, notin, isnull,"
            " notnull.",
        },
        {
            "param": "status",
            "code": "not-in-enum",
            "message": "'shut' is not an allowed value of column 'status'; the allowed values"
            " are: open, closed, pending.",
        },
        {
            "param": "as_of",
            "code": "invalid-value",
            "message": "'July' is not a valid value for column 'as_of': expected a date as"
            " YYYY-MM-DD.",
        },
        {
            "param": "day_first",
            "code": "invalid-value",
            "message": "'2025-07-01' is not a valid value for column 'day_first': expected a"
            " date in format '%d/%m/%Y'.",
        },
        {
            "param": "_count",
            "code": "invalid-control",
            "message": "_count takes one of 'bounded', 'exact', 'none'; got 'maybe'.",
        },
        {
            "param": "_size",
            "code": "invalid-size",
            "message": "_size must be a whole number from 0 to 1000; got '5000'.",
        },
    ]
    assert raised.value.status == 400


def test_size_limits_come_from_the_arguments() -> None:
    spec_query = parse_row_query(SPEC, [], default_size=25, max_size=50)
    assert spec_query.size == 25
    with pytest.raises(BadQuery):
        parse_row_query(SPEC, [("_size", "51")], default_size=25, max_size=50)


def test_a_table_without_primary_key_breaks_ties_on_every_sortable_column() -> None:
    spec = table_spec(FIELDS, [], name="loose")
    sortable = tuple(SortKey(n) for n in ALL_COLUMNS if n != "location")
    assert parse([], spec).sort == sortable
    assert parse([("_sort", "-rate")], spec).sort == (
        SortKey("rate", True),
        *(key for key in sortable if key.column != "rate"),
    )


def test_every_operator_is_described_and_fits_known_types() -> None:
    for key, op in OPERATORS.items():
        assert op.key == key
        assert op.description.endswith(".")
        assert op.types <= ALL_TYPES
        assert op.kind in {"single", "list", "range", "flag", "text"}
    for key, control in CONTROLS.items():
        assert key.startswith("_") and control.description.endswith(".")


def test_operators_for_a_type_follow_the_registry() -> None:
    assert operators_for("string") == list(OPERATORS)
    assert operators_for("boolean") == ["exact", "not", "in", "notin", "isnull", "notnull"]
    assert operators_for("geojson") == ["isnull", "notnull"]


def test_describe_control_fills_in_the_page_limits() -> None:
    assert describe_control("_size", default_size=100, max_size=1000) == (
        "JSON pages only: rows per page, 100 by default, at most 1000; `0` returns no rows, "
        "only the count and facets."
    )


KEY_SPEC = table_spec([{"name": "id", "type": "integer"}, {"name": "v"}], ["id"], name="keyed")
TEXT_KEY_SPEC = table_spec([{"name": "code", "type": "string"}], ["code"], name="texts")


@pytest.mark.parametrize(
    ("spec", "raw", "expected"),
    [
        (SPEC, "KH,2025-07-01", ("KH", date(2025, 7, 1))),
        (KEY_SPEC, "42", (42,)),
        (TEXT_KEY_SPEC, "a,b", ("a,b",)),
    ],
)
def test_parse_key(spec: TableSpec, raw: str, expected: tuple[Any, ...]) -> None:
    assert parse_key(spec, raw) == expected


@pytest.mark.parametrize(
    ("spec", "raw"),
    [
        (SPEC, "KH"),
        (SPEC, "KH,2025-07-01,x"),
        (SPEC, "KH,July"),
        (SPEC, ",2025-07-01"),
        (KEY_SPEC, "forty-two"),
        (KEY_SPEC, "1,2"),
        (KEY_SPEC, ""),
        (table_spec(FIELDS, [], name="loose"), "KH"),
    ],
)
def test_parse_key_not_found(spec: TableSpec, raw: str) -> None:
    with pytest.raises(NotFound):
        parse_key(spec, raw)


def _compiled(select: sa.Select[Any]) -> str:
    return str(select.compile(compile_kwargs={"literal_binds": True}))


def test_prepared_page_is_remembered_per_spec_and_query_string() -> None:
    params = [("country", "KH"), ("_sort", "-as_of"), ("_size", "5")]
    query, plan = prepare_page(SPEC, params, default_size=100, max_size=1000)
    assert query == parse(params)
    built = build_select(SPEC, query, limit=6, stored=True)
    assert _compiled(plan.select) == _compiled(built.select)
    again = prepare_page(SPEC, list(params), default_size=100, max_size=1000)
    assert again[0] is query and again[1] is plan
    # Another spec of the same table name (another database, another schema): parsed anew.
    extra = {"name": "extra", "type": "integer"}
    other = table_spec([*FIELDS[:2], extra], ["country"], name="events")
    other_query, other_plan = prepare_page(other, params, default_size=100, max_size=1000)
    assert other_plan is not plan
    assert other_query.columns == ("country", "as_of", "extra")
    # The page-size limits are part of the key.
    limited = prepare_page(SPEC, params, default_size=50, max_size=1000)[0]
    assert limited == query and limited is not query


def test_prepared_page_reports_errors_every_time() -> None:
    params = [("nope", "1")]
    for _ in range(2):
        with pytest.raises(BadQuery) as raised:
            prepare_page(SPEC, params, default_size=100, max_size=1000)
        assert [(e.param, e.code) for e in raised.value.errors] == [("nope", "unknown-column")]


@pytest.mark.parametrize(
    ("fmt", "params", "expected"),
    [
        ("csv", [("_size", "5")], [("_size", "not-for-format")]),
        ("ndjson", [("_count", "none"), ("_facet", "status")],
         [("_count", "not-for-format"), ("_facet", "not-for-format")]),
        ("xlsx", [("_bom", "1")], [("_bom", "not-for-format")]),
        ("json", [("_delimiter", ";")], [("_delimiter", "not-for-format")]),
    ],
)
def test_controls_of_another_format_are_problems(
    fmt: str, params: list[tuple[str, str]], expected: list[tuple[str, str]]
) -> None:
    with pytest.raises(BadQuery) as raised:
        parse_row_query(SPEC, params, default_size=100, max_size=1000, fmt=fmt)
    assert [(e.param, e.code) for e in raised.value.errors] == expected
    assert raised.value.errors[0].message.endswith(f"not to {fmt.upper()}.")
