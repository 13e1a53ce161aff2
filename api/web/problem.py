"""Problem documents sent by the middleware itself, before or instead of the application."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Scope, Send

from api.errors import ApiError
from api.web.request_id import request_id_of

PROBLEM_JSON = "application/problem+json"


def problem_body(scope: Scope, error: ApiError) -> dict[str, Any]:
    """The RFC 9457 document of `error` for this request, with its request id."""
    body = error.problem(scope.get("path") or None)
    request_id = request_id_of(scope)
    if request_id:
        body["request_id"] = request_id
    return body


async def send_problem(scope: Scope, send: Send, error: ApiError) -> None:
    """Answer the request with the problem document of `error`."""
    content = orjson.dumps(problem_body(scope, error))
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(content)).encode()),
        *(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in error.headers.items()
        ),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": content, "more_body": False})
