"""The grammar and the cursor codec are total: any text in, a RowQuery / key or a 400 / 404 out.

Each case below once escaped as an exception (a 500). The tables hold the inputs that did; the
properties feed arbitrary text and bytes to the same functions. Over HTTP the whole problem body
is asserted, so its messages quote the input as plain text, never as a Python repr.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from typing import Any

import httpx
import pytest

from api.errors import BadQuery, NotFound, plain, quoted
from api.query import RowQuery, SortKey, decode_cursor, encode_cursor, parse_key, parse_row_query
from api.query.decode import Undecodable, json_depth, load_json, whole_number
from tests.helpers import FLAGSHIP, table_spec
from tests.problem_body import problem_body
from tests.test_grammar import KEY_SPEC, PK_SORT, SPEC, TEXT_KEY_SPEC, parse


def b64(text: str) -> str:
    """A `_next` token carrying `text` (as the API writes them: URL-safe, unpadded)."""
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def errors_of(params: list[tuple[str, str]]) -> list[dict[str, str]]:
    with pytest.raises(BadQuery) as raised:
        parse(params)
    return [e.as_dict() for e in raised.value.errors]


DEEP = "[" * 1000 + "]" * 1000
NOT_A_CURSOR = "_next is not a cursor this API issued; start again from the first page."
RESTART = "start again from the first page."

# (params, every error as {param, code, message}); each case used to raise instead.
REGRESSIONS: list[tuple[str, list[tuple[str, str]], list[dict[str, str]]]] = [
    (
        "tagged number that is no number (decimal.InvalidOperation)",
        [("_next", "W3sibiI6IngifV0")],
        [{"param": "_next", "code": "invalid-cursor", "message": NOT_A_CURSOR}],
    ),
    (
        "1,000-deep JSON in __in (RecursionError)",
        [("country__in", DEEP)],
        [
            {
                "param": "country__in",
                "code": "invalid-value",
                "message": "A JSON array must hold strings and numbers, at least one.",
            }
        ],
    ),
    (
        "1,000-deep JSON in _next (RecursionError)",
        [("_next", b64(DEEP))],
        [{"param": "_next", "code": "invalid-cursor", "message": NOT_A_CURSOR}],
    ),
    (
        "a _size of 5,000 digits (the int-digit limit)",
        [("_size", "9" * 5000)],
        [
            {
                "param": "_size",
                "code": "invalid-size",
                "message": "_size must be a whole number from 0 to 1000; got"
                f" '{'9' * 59}… (5,000 characters)'.",
            }
        ],
    ),
    (
        "a lone surrogate in __in (UnicodeEncodeError at execute)",
        [("country__in", '["\\ud800"]')],
        [
            {
                "param": "country__in",
                "code": "invalid-value",
                "message": "'\\ud800' is not a usable value for column 'country': it contains a"
                " lone surrogate (\\ud800 to \\udfff), which is not text.",
            }
        ],
    ),
    (
        "a lone surrogate in a cursor (UnicodeEncodeError at execute)",
        [("_next", b64('["\\ud800", {"d": "2025-07-01"}]'))],
        [
            {
                "param": "_next",
                "code": "invalid-cursor",
                "message": f"_next holds a value for 'country' that is not a string; {RESTART}",
            }
        ],
    ),
    (
        "a signalling NaN in a number filter (float() of Decimal('sNaN'))",
        [("rate", "sNaN")],
        [
            {
                "param": "rate",
                "code": "invalid-value",
                "message": "'sNaN' is not a usable value for column 'rate': it cannot be stored"
                " as a number.",
            }
        ],
    ),
    (
        "an aware datetime before year 1 in UTC (OverflowError)",
        [("reported_at__gte", "0001-01-01T00:00:00+01:00")],
        [
            {
                "param": "reported_at__gte",
                "code": "invalid-value",
                "message": "'0001-01-01T00:00:00+01:00' is not a usable value for column"
                " 'reported_at': it cannot be stored as a datetime.",
            }
        ],
    ),
]


@pytest.mark.parametrize(
    ("params", "expected"), [case[1:] for case in REGRESSIONS], ids=[c[0] for c in REGRESSIONS]
)
def test_inputs_that_crashed_the_grammar_are_400s(
    params: list[tuple[str, str]], expected: list[dict[str, str]]
) -> None:
    assert errors_of(params) == expected


RATE_SPEC = table_spec(
    [{"name": "rate", "type": "number"}, {"name": "at", "type": "datetime"}], ["rate"], name="rates"
)


@pytest.mark.parametrize(
    "text",
    [
        '[{"n": "sNaN"}]',  # float(Decimal('sNaN')) raises ValueError
        '[{"n": "x"}]',  # Decimal('x') raises InvalidOperation
        '[{"n": "' + "9" * 5000 + '"}, 1]',  # too many values for the sort
        "[" + "9" * 5000 + "]",  # json.loads meets the int-digit limit
    ],
)
def test_number_cursors_that_crashed_are_invalid(text: str) -> None:
    with pytest.raises(BadQuery) as raised:
        decode_cursor(b64(text), RATE_SPEC, [SortKey("rate")])
    assert [e.code for e in raised.value.errors] == ["invalid-cursor"]


def test_a_datetime_cursor_beyond_the_calendar_in_utc_is_invalid() -> None:
    sort = [SortKey("at"), SortKey("rate")]
    token = b64('[{"dt": "0001-01-01T00:00:00+01:00"}, 1.5]')
    with pytest.raises(BadQuery) as raised:
        decode_cursor(token, RATE_SPEC, sort)
    assert raised.value.errors[0].message == (
        f"_next holds a value for 'at' that is not a datetime; {RESTART}"
    )


@pytest.mark.parametrize(
    ("spec", "raw"),
    [
        (TEXT_KEY_SPEC, "\ud800"),
        (TEXT_KEY_SPEC, "a\x00b"),
        (KEY_SPEC, "9" * 5000),
    ],
)
def test_keys_that_cannot_match_are_not_found(spec: Any, raw: str) -> None:
    with pytest.raises(NotFound):
        parse_key(spec, raw)


def test_a_key_message_quotes_the_key_as_plain_text() -> None:
    with pytest.raises(NotFound) as raised:
        parse_key(TEXT_KEY_SPEC, "a\x00\nb\ud800")
    assert raised.value.message == "No row with key 'a\\x00\\nb\\ud800' in texts."


# --- the decoding step itself -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "depth"),
    [("1", 0), ("[]", 1), ('[{"a": [1]}]', 3), ('["[[[["]', 1), ('"\\"[["', 0), (DEEP, 1000)],
)
def test_json_depth_ignores_brackets_in_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth


@pytest.mark.parametrize("text", [DEEP, "[1,", "[" + "1" * 5000 + "]", '{"a": NaN'])
def test_load_json_refuses_with_undecodable_only(text: str) -> None:
    with pytest.raises(Undecodable):
        load_json(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("0010", 10),
        ("1000", 1000),
        ("1001", None),
        ("0", None),
        ("", None),
        ("-5", None),
        ("١٢", None),
        ("9" * 5000, None),
        ("0" * 5000 + "7", 7),
    ],
)
def test_whole_number(text: str, expected: int | None) -> None:
    assert whole_number(text, low=1, high=1000) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("figures", "'figures'"),
        ("it's", "'it's'"),
        ("a\\b", "'a\\b'"),
        ("tab\there\r\n", "'tab\\there\\r\\n'"),
        ("nul\x00 del\x7f c1\x85", "'nul\\x00 del\\x7f c1\\x85'"),
        ("line\u2028sep \ud800", "'line\\u2028sep \\ud800'"),
        ("Phnom Penh ភ្នំពេញ", "'Phnom Penh ភ្នំពេញ'"),
        ("x" * 61, f"'{'x' * 59}… (61 characters)'"),
    ],
)
def test_quoted_is_plain_text_never_a_repr(text: str, expected: str) -> None:
    assert quoted(text) == expected


def test_plain_shortens_before_escaping() -> None:
    assert plain("\x00" * 100, limit=3) == "\\x00\\x00… (100 characters)"


def test_valid_cursors_still_round_trip() -> None:
    values = ["KH", date(2025, 7, 1)]
    assert decode_cursor(encode_cursor(values), SPEC, PK_SORT) == tuple(values)
    query = parse([("_next", encode_cursor(values))])
    assert isinstance(query, RowQuery) and query.after == tuple(values)


def test_a_cursor_token_is_json_of_tagged_values() -> None:
    token = encode_cursor(["KH", date(2025, 7, 1)])
    assert json.loads(base64.urlsafe_b64decode(token + "==")) == ["KH", {"d": "2025-07-01"}]
    assert parse_row_query(SPEC, [("_next", token)], default_size=10, max_size=10).after == (
        "KH",
        date(2025, 7, 1),
    )


@pytest.mark.parametrize("text", ["[true]", "[1]", "[[2025, 7]]"])
def test_a_cursor_value_of_the_wrong_type_is_checked_before_it_is_stored(text: str) -> None:
    # Storing a yearmonth indexes it as a (year, month) pair: a bool once raised TypeError.
    with pytest.raises(BadQuery) as raised:
        decode_cursor(b64(text), SPEC, [SortKey("month")])
    assert raised.value.errors[0].message == (
        f"_next holds a value for 'month' that is not a yearmonth; {RESTART}"
    )


# The same kinds of input over HTTP, on both backends: whole problem bodies ---------------------

VERSION = "1.2.0"
PACKAGE = f"/v1/datasets/{FLAGSHIP}"
PREFIX = f"{PACKAGE}/{VERSION}"
PROBLEM_JSON = "application/problem+json"
SIZE_5000 = "9" * 5000
SIZE_TAIL = f"to 1000; got '{'9' * 59}… (5,000 characters)'."
SIZE_MESSAGE = f"_size must be a whole number from 0 {SIZE_TAIL}"  # a rows page may be empty
DIFF_SIZE_MESSAGE = f"_size must be a whole number from 1 {SIZE_TAIL}"


def bad_query(path: str, errors: list[tuple[str, str, str]]) -> dict[str, object]:
    listed = "; ".join(f"{param}: {message}" for param, _, message in errors)
    return {
        "type": "/problems/bad-query",
        "title": "Bad query",
        "status": 400,
        "detail": f"{len(errors)} problem(s) in the query: {listed}",
        "instance": path,
        "errors": [{"param": p, "code": c, "message": m} for p, c, m in errors],
    }


CASES = [
    pytest.param(
        f"{PREFIX}/figures",
        {"_next": "W3sibiI6IngifV0"},
        [("_next", "invalid-cursor", NOT_A_CURSOR)],
        id="tagged-number-not-a-number",
    ),
    pytest.param(
        f"{PREFIX}/figures",
        {"figure_id__in": DEEP},
        [
            (
                "figure_id__in",
                "invalid-value",
                "A JSON array must hold strings and numbers, at least one.",
            )
        ],
        id="deep-json-in-in",
    ),
    pytest.param(
        f"{PREFIX}/figures",
        {"_next": b64(DEEP)},
        [("_next", "invalid-cursor", NOT_A_CURSOR)],
        id="deep-json-in-cursor",
    ),
    pytest.param(
        f"{PREFIX}/figures",
        {"_size": SIZE_5000},
        [("_size", "invalid-size", SIZE_MESSAGE)],
        id="size-of-5000-digits",
    ),
    pytest.param(
        f"{PACKAGE}/diff",
        {"from": "1.0.0", "to": "1.2.0", "_size": SIZE_5000},
        [("_size", "invalid-size", DIFF_SIZE_MESSAGE)],
        id="diff-size-of-5000-digits",
    ),
    pytest.param(
        f"{PREFIX}/figures",
        {"metric__in": '["\\ud800"]'},
        [
            (
                "metric__in",
                "invalid-value",
                "'\\ud800' is not a usable value for column 'metric': it contains a lone"
                " surrogate (\\ud800 to \\udfff), which is not text.",
            )
        ],
        id="lone-surrogate-in-in",
    ),
    pytest.param(
        f"{PREFIX}/figures",
        {"_next": b64('["\\ud800"]')},
        [
            (
                "_next",
                "invalid-cursor",
                "_next holds a value for 'figure_id' that is not a string; start again from"
                " the first page.",
            )
        ],
        id="lone-surrogate-in-cursor",
    ),
    pytest.param(
        f"{PACKAGE}/diff",
        {"from": "1.0.0", "to": "1.2.0", "_next": "figures." + b64('["\\ud800"]')},
        [
            (
                "_next",
                "invalid-cursor",
                "_next holds a value for 'figure_id' that is not a string; start again from"
                " the first page.",
            )
        ],
        id="lone-surrogate-in-diff-cursor",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "params", "errors"), CASES)
async def test_inputs_that_crashed_are_bad_queries(
    client: httpx.AsyncClient,
    path: str,
    params: dict[str, str],
    errors: list[tuple[str, str, str]],
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert problem_body(response) == bad_query(path, errors)


def not_found(raw_path: str, detail: str) -> tuple[str, dict[str, object]]:
    body = {"type": "/problems/not-found", "title": "Not found", "status": 404, "detail": detail}
    return raw_path, body


LONG = "x" * 10_000
NOT_FOUND_CASES = [
    not_found(
        f"{PREFIX}/figures/%ED%A0%80",  # a lone surrogate, UTF-8 encoded
        "figures has no row with key '\ufffd\ufffd\ufffd'",
    ),
    not_found(
        f"{PREFIX}/figures/a%5Cb%00c%0A",
        "No row with key 'a\\b\\x00c\\n' in figures.",
    ),
    not_found(
        "/v1/datasets/no%0Asuch'package",
        "no package named 'no\\nsuch'package'",
    ),
    not_found(
        f"/v1/datasets/{LONG}/{VERSION}",
        f"no package named '{'x' * 59}… (10,000 characters)'",
    ),
    not_found(
        f"{PREFIX}/it's%09here",
        f"release {FLAGSHIP} {VERSION} has no resource 'it's\\there'",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("raw_path", "expected"), NOT_FOUND_CASES, ids=[f"case{i}" for i in range(len(NOT_FOUND_CASES))]
)
async def test_not_found_messages_quote_the_path_as_plain_text(
    client: httpx.AsyncClient, raw_path: str, expected: dict[str, object]
) -> None:
    response = await client.get(raw_path)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = problem_body(response)
    # The URL parser drops tabs and newlines from `instance`; the detail is what is asserted.
    assert body.pop("instance").startswith("/v1/datasets/")
    # What follows the quoted input lists what exists, which grows with new releases.
    body["detail"] = body["detail"].split(" (resources: ")[0]
    assert body == expected


@pytest.mark.anyio
async def test_diff_messages_quote_the_resource_as_plain_text(client: httpx.AsyncClient) -> None:
    params = {"from": "1.0.0", "to": "1.2.0", "resource": "fig\x1bures"}
    response = await client.get(f"{PACKAGE}/diff", params=params)
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert detail.split(" (resources: ")[0] == (
        f"neither {FLAGSHIP} 1.0.0 nor 1.2.0 has a resource 'fig\\x1bures'"
    )
