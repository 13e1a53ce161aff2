"""Inputs that crashed the grammar with a 500, now 400/404 problems on both backends.

Each request used to end in an exception in the server (`decimal.InvalidOperation`,
`RecursionError`, the int-digit limit, `UnicodeEncodeError` at execute); the whole problem body
is asserted, so its messages quote the input as plain text, never as a Python repr.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.conftest import FLAGSHIP

pytestmark = pytest.mark.anyio

VERSION = "1.2.0"
PACKAGE = f"/v1/datasets/{FLAGSHIP}"
PREFIX = f"{PACKAGE}/{VERSION}"
PROBLEM_JSON = "application/problem+json"
DEEP = "[" * 1000 + "]" * 1000
NOT_A_CURSOR = "_next is not a cursor this API issued; start again from the first page."
SIZE_5000 = "9" * 5000
SIZE_TAIL = f"to 1000; got '{'9' * 59}… (5,000 characters)'."
SIZE_MESSAGE = f"_size must be a whole number from 0 {SIZE_TAIL}"  # a rows page may be empty
DIFF_SIZE_MESSAGE = f"_size must be a whole number from 1 {SIZE_TAIL}"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


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


@pytest.mark.parametrize(("path", "params", "errors"), CASES)
async def test_inputs_that_crashed_are_bad_queries(
    client: httpx.AsyncClient, path: str, params: dict[str, str], errors: list[tuple[str, ...]]
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == bad_query(path, errors)  # type: ignore[arg-type]


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


@pytest.mark.parametrize(
    ("raw_path", "expected"), NOT_FOUND_CASES, ids=[f"case{i}" for i in range(len(NOT_FOUND_CASES))]
)
async def test_not_found_messages_quote_the_path_as_plain_text(
    client: httpx.AsyncClient, raw_path: str, expected: dict[str, object]
) -> None:
    response = await client.get(raw_path)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    # The URL parser drops tabs and newlines from `instance`; the detail is what is asserted.
    assert body.pop("instance").startswith("/v1/datasets/")
    # What follows the quoted input lists what exists, which grows with new releases.
    body["detail"] = body["detail"].split(" (resources: ")[0]
    assert body == expected


async def test_diff_messages_quote_the_resource_as_plain_text(client: httpx.AsyncClient) -> None:
    params = {"from": "1.0.0", "to": "1.2.0", "resource": "fig\x1bures"}
    response = await client.get(f"{PACKAGE}/diff", params=params)
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert detail.split(" (resources: ")[0] == (
        f"neither {FLAGSHIP} 1.0.0 nor 1.2.0 has a resource 'fig\\x1bures'"
    )
