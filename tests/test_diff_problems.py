"""The diff API's refusals: each bad request is a problem naming every error, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.problem_body import problem_body

Row = dict[str, Any]


def problem(status: int, detail: str, path: str, **extra: Any) -> Row:
    code = {400: "bad-query", 404: "not-found"}[status]
    title = {400: "Bad query", 404: "Not found"}[status]
    return {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": path,
        **extra,
    }


def bad(path: str, *errors: tuple[str, str, str]) -> tuple[int, Row]:
    listed = "; ".join(f"{param}: {message}" for param, _, message in errors)
    return 400, problem(
        400,
        f"{len(errors)} problem(s) in the query: {listed}",
        path,
        errors=[{"param": p, "code": c, "message": m} for p, c, m in errors],
    )


JSON_PATH = "/v1/datasets/diffpkg/diff"
CSV_PATH = "/v1/datasets/diffpkg/diff.csv"
ERROR_CASES = [
    (
        "/v1/datasets/nopkg/diff?from=1.0.0&to=1.1.0",
        (404, problem(404, "no package named 'nopkg'", "/v1/datasets/nopkg/diff")),
    ),
    (
        f"{JSON_PATH}?from=9.0.0&to=1.1.0",
        (
            404,
            problem(
                404,
                "package 'diffpkg' has no release '9.0.0' (releases: 1.0.0, 1.1.0, 1.1.1, 2.0.0)",
                JSON_PATH,
            ),
        ),
    ),
    (
        f"{JSON_PATH}?from=1.0.0&to=1.1.0&resource=nothing",
        (
            404,
            problem(
                404,
                "neither diffpkg 1.0.0 nor 1.1.0 has a resource 'nothing'"
                " (resources: figures, regions, events, sources)",
                JSON_PATH,
            ),
        ),
    ),
    (
        f"{JSON_PATH}?to=1.1.0&_size=0&_size=2&colour=red",
        bad(
            JSON_PATH,
            (
                "colour",
                "unknown-parameter",
                "colour is not a parameter of a diff; they are: from, to, resource, _size, _next.",
            ),
            ("_size", "duplicate-parameter", "_size is given 2 times; give it once."),
            (
                "from",
                "missing-parameter",
                "from is required: the older release, a version such as 1.0.0 or latest.",
            ),
            ("_size", "invalid-size", "_size must be a whole number from 1 to 1000; got '0'."),
        ),
    ),
    (
        f"{JSON_PATH}?from=1.0.0&to=1.1.0&_next=nonsense",
        bad(
            JSON_PATH,
            (
                "_next",
                "invalid-cursor",
                "_next is not a cursor of this diff; start again from the first page.",
            ),
        ),
    ),
    (
        f"{JSON_PATH}?from=1.0.0&to=1.1.0&_next=",
        bad(
            JSON_PATH,
            (
                "_next",
                "invalid-cursor",
                "_next is not a cursor of this diff; start again from the first page.",
            ),
        ),
    ),
    (
        f"{JSON_PATH}?from=1.0.0&to=1.1.0&resource=regions&_next=figures.WyJhLTEiXQ",
        bad(
            JSON_PATH,
            (
                "_next",
                "invalid-cursor",
                "_next is not a cursor of this diff; start again from the first page.",
            ),
        ),
    ),
    (
        f"{JSON_PATH}?from=1.0.0&to=1.1.0&_next=figures.WzFd",
        bad(
            JSON_PATH,
            (
                "_next",
                "invalid-cursor",
                "_next holds a value for 'figure_id' that is not a string;"
                " start again from the first page.",
            ),
        ),
    ),
    (
        f"{CSV_PATH}?from=1.0.0&to=1.1.0&_size=3",
        bad(
            CSV_PATH,
            (
                "_size",
                "unknown-parameter",
                "_size is not a parameter of a CSV diff; they are: from, to, resource.",
            ),
            (
                "resource",
                "missing-parameter",
                "resource is required: the name of a resource of either release.",
            ),
        ),
    ),
    (
        f"{CSV_PATH}?from=1.1.1&to=2.0.0&resource=sources",
        bad(
            CSV_PATH,
            (
                "resource",
                "not-comparable",
                "the rows of resource 'sources' cannot be compared: its primary key changed from"
                ' ["source_id"] to ["source_id", "lang"].',
            ),
        ),
    ),
    (
        f"{CSV_PATH}?from=1.0.0&to=1.1.0&resource=sources",
        bad(
            CSV_PATH,
            (
                "resource",
                "not-comparable",
                "the rows of resource 'sources' cannot be compared: it is new in 1.1.0.",
            ),
        ),
    ),
    (
        f"{CSV_PATH}?from=1.1.1&to=2.0.0&resource=events",
        bad(
            CSV_PATH,
            (
                "resource",
                "not-comparable",
                "the rows of resource 'events' cannot be compared: it is gone from 2.0.0.",
            ),
        ),
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("url", "expected"), ERROR_CASES)
async def test_diff_errors(
    diff_client: httpx.AsyncClient, url: str, expected: tuple[int, Row]
) -> None:
    response = await diff_client.get(url)
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.status_code, problem_body(response)) == expected
