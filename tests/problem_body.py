"""Read a problem document whole, its request id checked against the response header."""

from __future__ import annotations

from typing import Any

import httpx


def problem_body(response: httpx.Response) -> dict[str, Any]:
    """The problem document of `response`, less the `request_id` member it must carry.

    The id is the one of the `X-Request-ID` response header, so the rest of the body can be
    compared whole.
    """
    body: dict[str, Any] = response.json()
    assert body.pop("request_id") == response.headers["x-request-id"], body
    return body
