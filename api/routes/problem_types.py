"""What a problem `type` URI means: the page each one resolves to."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.errors import NotFound, problem_types, quoted
from api.http.responses import JSONResponse

router = APIRouter(tags=["problems"], include_in_schema=False)


@router.get("/problems/{code}")
async def problem_type(code: str) -> Response:
    """What a problem `type` means: the page its URI resolves to."""
    kind = problem_types().get(code)
    if kind is None:
        raise NotFound(f"no problem type {quoted(code)}")
    body = {
        "type": f"/problems/{kind.code}",
        "title": kind.title,
        "status": kind.status,
        "description": " ".join((kind.__doc__ or "").split()),
    }
    return JSONResponse(body)
