"""The JSON and problem+json response classes: a body goes in as data and is serialized once."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse as StarletteJSONResponse

from api.render.rows import dump_json
from api.web.problem import PROBLEM_JSON


class JSONResponse(StarletteJSONResponse):
    """A JSON body serialized by orjson: dates as ISO 8601, non-string keys allowed."""

    def render(self, content: Any) -> bytes:
        """The body's bytes."""
        return dump_json(content)


class ProblemResponse(JSONResponse):
    """An RFC 9457 problem document; its status is the document's own."""

    media_type = PROBLEM_JSON

    def __init__(self, content: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(content, status_code=int(content["status"]), headers=headers)
