"""Arbitrary query strings and path segments through HTTP: a 2xx or a 4xx problem, never a 5xx.

Hypothesis builds the requests (text with every code point, surrogates included, and raw bytes,
percent-encoded as a client would send them); the budget is the profile's (tests/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.config import Settings
from api.main import create_app
from api.query import CONTROLS, OPERATORS
from tests.test_hostile import PACKAGE, PREFIX, Case, assert_safe, send

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
RESOURCES = ["figures", "figures.csv", "figures.ndjson", "deportation_events", "figure_provinces"]
COLUMNS = ["figure_id", "metric", "value", "as_of", "event_date", "persons_deported", "notes"]


def encoded(text: str) -> str:
    """`text` percent-encoded as UTF-8; a lone surrogate goes out as its (invalid) bytes."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def raw_bytes(data: bytes) -> str:
    return "".join(f"%{byte:02X}" for byte in data)


SEGMENT = st.one_of(
    ANY_TEXT.map(encoded),
    st.binary(max_size=24).map(raw_bytes),
    st.sampled_from(["latest", "1.2.0", "figures", "..", "%2E%2E", "%2F", ""]),
)
KEY = st.one_of(
    st.sampled_from(COLUMNS + list(CONTROLS)),
    st.builds(lambda c, o: f"{c}__{o}", st.sampled_from(COLUMNS), st.sampled_from(list(OPERATORS))),
    ANY_TEXT,
)
# Shapes that once broke a decoder, for Hypothesis to combine with everything else.
HOSTILE = st.sampled_from(
    [
        "[" * 2000 + "]" * 2000,
        '["\\ud800"]',
        "9" * 5000,
        "W3sibiI6IngifV0",
        "sNaN",
        "0001-01-01T00:00:00+01:00",
        "a\x00b",
    ]
)
VALUE = st.one_of(
    HOSTILE,
    ANY_TEXT,
    st.integers().map(str),
    st.dates().map(str),
    st.lists(ANY_TEXT, max_size=4).map(json.dumps),
    st.builds(lambda a, b: f"{a}..{b}", ANY_TEXT, ANY_TEXT),
)
DECODING = st.sampled_from(["_size", "_next", "figure_id__in", "metric__notin", "value__gte"])
PAIR = st.one_of(st.tuples(KEY, VALUE), st.tuples(DECODING, HOSTILE))
QUERY = st.one_of(
    st.lists(PAIR, max_size=5).map(
        lambda pairs: "&".join(f"{encoded(k)}={encoded(v)}" for k, v in pairs)
    ),
    st.binary(max_size=40).map(raw_bytes),
    st.binary(max_size=40)
    .map(lambda data: data.decode("latin-1"))
    .map(lambda text: quote(text, safe="=&")),
)
ROUTES = st.sampled_from(
    [
        f"{PREFIX}/{{0}}",
        f"{PREFIX}/figures/{{0}}",
        f"{PACKAGE}/{{0}}/figures",
        "/v1/datasets/{0}",
        "/v1/datasets/{0}/latest/{0}",
        f"{PACKAGE}/{{0}}/citation",
        "/api/3/action/{0}",
        "/problems/{0}",
        "/datasets/{0}",
    ]
)


@pytest.fixture(scope="module")
def app(flagship_settings: Settings) -> Iterator[Any]:
    """The app over the flagship database of the backend under test."""
    application = create_app(flagship_settings)
    yield application
    application.state.engine.dispose()


def check(app: Any, case: Case) -> None:
    answer = anyio.run(send, app, case)
    sent = unquote(f"{case.path}?{case.query}")
    assert_safe(answer, method=case.method, path=unquote(case.path), sent=sent)


@given(resource=st.sampled_from(RESOURCES), query=QUERY)
def test_any_query_string_on_rows(app: Any, resource: str, query: str) -> None:
    check(app, Case("rows", f"{PREFIX}/{resource}", query))


@given(query=QUERY, csv=st.booleans())
def test_any_query_string_on_a_diff(app: Any, query: str, csv: bool) -> None:
    path = f"{PACKAGE}/diff.csv" if csv else f"{PACKAGE}/diff"
    check(app, Case("diff", path, f"from=1.0.0&to=1.2.0&{query}"))


@given(action=st.sampled_from(["package_search", "package_show", "package_list"]), query=QUERY)
def test_any_query_string_on_ckan(app: Any, action: str, query: str) -> None:
    check(app, Case("ckan", f"/api/3/action/{action}", query))


@given(route=ROUTES, segment=SEGMENT)
def test_any_path_segment(app: Any, route: str, segment: str) -> None:
    check(app, Case("path", route.format(segment)))
