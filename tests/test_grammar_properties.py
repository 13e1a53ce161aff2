"""Properties of the grammar and the cursor codec over arbitrary text and bytes.

Any query string parses to a RowQuery whose SQL runs, or raises BadQuery; any token decodes to
values or raises BadQuery; any key reads or raises NotFound; a cursor the API issued decodes to
the values it was made from. The budget is the Hypothesis profile's (see tests/conftest.py).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from api.errors import BadQuery, NotFound, quoted
from api.query import (
    CONTROLS,
    OPERATORS,
    RowQuery,
    SortKey,
    build_count,
    build_facet,
    build_select,
    decode_cursor,
    encode_cursor,
    parse_key,
    parse_row_query,
)
from api.query.decode import Undecodable, load_json, whole_number
from api.storage import INT64_MAX, INT64_MIN, stored_value
from tests.test_grammar import ALL_COLUMNS, KEY_SPEC, SPEC, TEXT_KEY_SPEC

# Every code point, surrogates and controls included: what JSON escapes and bytes can carry.
ANY_CHAR = st.characters(exclude_categories=())
ANY_TEXT = st.text(ANY_CHAR, max_size=30)
SORTABLE = tuple(f.name for f in SPEC.fields if f.type != "geopoint")


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=3),
        max_leaves=8,
    )


JSON_TEXT = _json_values().map(json.dumps)
DEEP_JSON = st.integers(1, 3000).map(lambda n: "[" * n + "]" * n)
TYPED_TEXT = st.one_of(
    st.integers().map(str),
    st.floats().map(str),
    st.sampled_from(["sNaN", "NaN", "-inf", "1e999", "9" * 5000, "0x10", "1_000"]),
    st.dates().map(str),
    st.builds(
        lambda moment, zone: moment.isoformat() + zone,
        st.datetimes(),
        st.sampled_from(["", "Z", "+01:00", "-14:00", "+23:59"]),
    ),
    st.sampled_from(["true", "FALSE", "1", "0", "2025-07", "P1D", "P99999999999Y"]),
)
B64 = st.binary(max_size=64).map(lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("="))
B64_JSON = JSON_TEXT.map(
    lambda text: base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode()
)
VALUE = st.one_of(
    ANY_TEXT,
    JSON_TEXT,
    DEEP_JSON,
    TYPED_TEXT,
    st.builds(lambda a, b: f"{a}..{b}", TYPED_TEXT | st.just(""), TYPED_TEXT | st.just("")),
    st.lists(TYPED_TEXT | ANY_TEXT, max_size=5).map(",".join),
    st.lists(TYPED_TEXT | ANY_TEXT, max_size=5).map(json.dumps),
    B64,
    B64_JSON,
)
COLUMN = st.sampled_from([*ALL_COLUMNS, "nope", ""]) | ANY_TEXT
KEY = st.one_of(
    st.sampled_from(ALL_COLUMNS),
    st.builds(lambda c, o: f"{c}__{o}", COLUMN, st.sampled_from([*OPERATORS, "bogus", ""])),
    st.sampled_from(list(CONTROLS)),
    ANY_TEXT,
)
PARAMS = st.lists(st.tuples(KEY, VALUE), max_size=6)
SORT_PARAMS = st.lists(
    st.tuples(
        st.just("_sort"),
        st.lists(
            st.sampled_from([*SORTABLE, *(f"-{n}" for n in SORTABLE)]), min_size=1, max_size=3
        ).map(",".join),
    ),
    max_size=1,
)


@pytest.fixture(scope="module")
def database() -> Iterator[sa.Engine]:
    """An in-memory SQLite database holding the grammar tests' table, empty."""
    engine = sa.create_engine("sqlite://")
    SPEC.table.metadata.create_all(engine)
    yield engine
    engine.dispose()


@given(params=PARAMS, fmt=st.sampled_from(["json", "csv", "ndjson", "xlsx"]))
def test_any_query_string_is_a_row_query_or_a_bad_query(
    database: sa.Engine, params: list[tuple[str, str]], fmt: str
) -> None:
    try:
        query = parse_row_query(SPEC, params, default_size=100, max_size=1000, fmt=fmt)
    except BadQuery as error:
        assert error.errors and all(e.message for e in error.errors)
        # A problem document must serialize: nothing in it may be a lone surrogate.
        error.message.encode("utf-8")
        return
    assert isinstance(query, RowQuery)
    with database.connect() as connection:  # the SQL it stands for runs
        connection.execute(build_select(SPEC, query, limit=query.size + 1).select).all()
        connection.execute(build_count(SPEC, query)).scalar_one()
        for column in query.facets:
            connection.execute(build_facet(SPEC, query, column)).all()


@given(params=SORT_PARAMS, token=st.one_of(ANY_TEXT, B64, B64_JSON))
def test_any_cursor_token_is_values_or_a_bad_query(
    params: list[tuple[str, str]], token: str
) -> None:
    try:
        query = parse_row_query(SPEC, [*params, ("_next", token)], default_size=10, max_size=10)
    except BadQuery as error:
        assert {e.code for e in error.errors} <= {"invalid-cursor", "invalid-control"}
        return
    assert query.after is not None and len(query.after) == len(query.sort)


def _value_of(field_type: str) -> st.SearchStrategy[Any]:
    text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
    by_type: dict[str, st.SearchStrategy[Any]] = {
        "string": text,
        "integer": st.integers(INT64_MIN, INT64_MAX),
        "year": st.integers(INT64_MIN, INT64_MAX),
        "number": st.floats(),
        "boolean": st.booleans(),
        "date": st.dates(),
        "datetime": st.datetimes(),
        "yearmonth": st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}"),
    }
    return st.none() | by_type[field_type]


@st.composite
def sort_and_values(draw: st.DrawFn) -> tuple[list[SortKey], list[Any]]:
    names = draw(st.permutations(SORTABLE).map(lambda names: names[: len(names) // 2 + 1]))
    sort = [SortKey(name, draw(st.booleans())) for name in names]
    values = [draw(_value_of(SPEC.field(name).type)) for name in names]  # type: ignore[union-attr]
    return sort, values


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    return type(left) is type(right) and left == right


@given(sort_and_values())
def test_an_issued_cursor_decodes_to_its_values(case: tuple[list[SortKey], list[Any]]) -> None:
    sort, values = case
    decoded = decode_cursor(encode_cursor(values), SPEC, sort)
    expected = [
        stored_value(SPEC.field(k.column).type, v) for k, v in zip(sort, values, strict=True)
    ]  # type: ignore[union-attr]
    assert len(decoded) == len(expected)
    assert all(_same(a, b) for a, b in zip(decoded, expected, strict=True)), (decoded, expected)


@given(spec=st.sampled_from([SPEC, KEY_SPEC, TEXT_KEY_SPEC]), raw=VALUE)
def test_any_key_is_values_or_not_found(spec: Any, raw: str) -> None:
    try:
        values = parse_key(spec, raw)
    except NotFound as error:
        error.message.encode("utf-8")
        return
    assert len(values) == len(spec.primary_key)


@given(text=st.one_of(ANY_TEXT, JSON_TEXT, DEEP_JSON, TYPED_TEXT))
def test_the_decoding_step_raises_only_undecodable(text: str) -> None:
    assert whole_number(text, low=1, high=1000) in (None, *range(1, 1001))
    try:
        load_json(text)
    except Undecodable:
        pass


@given(text=st.text(ANY_CHAR))
def test_quoted_text_is_printable_and_encodable(text: str) -> None:
    shown = quoted(text)
    shown.encode("utf-8")
    assert shown.startswith("'") and shown.endswith("'")
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert len(shown) <= 2 + 59 * 6 + len("… (,  characters)") + 20
