"""The answers a route documents besides its 200: problem+json for each error it can send."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
Answers = dict[int | str, dict[str, Any]]


def problem(description: str) -> dict[str, Any]:
    """A response documented as an RFC 9457 problem document."""
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }


BAD_QUERY: Answers = {400: problem("Bad query: every problem listed in `errors`")}
NOT_FOUND: Answers = {404: problem("Unknown package or version")}
NOT_MODIFIED: Answers = {304: {"description": "Not modified: the `If-None-Match` ETag holds."}}
UNAVAILABLE: Answers = {
    503: problem(
        "The database is unreachable (`database-unavailable`, with `Retry-After`) or a query"
        " ran past its time limit (`query-timeout`)"
    )
}


def answers(*groups: Answers) -> Answers:
    """The responses of a route: the union of `groups`."""
    merged: Answers = {}
    for group in groups:
        merged.update(group)
    return merged


RELEASE_ANSWERS = answers(NOT_MODIFIED, NOT_FOUND, UNAVAILABLE)


def bodies(description: str, media_types: Iterable[str], *, binary: bool = False) -> Answers:
    """A 200 whose body comes in each of `media_types` (use with `response_class=Response`)."""
    content = {}
    for media_type in media_types:
        name = media_type.split(";")[0]
        schema: dict[str, Any] = {"type": "string"}
        if binary:
            schema = {"type": "string", "format": "binary"}
        elif name.endswith("json"):
            schema = {}  # a JSON document; its own vocabulary describes it
        content[name] = {"schema": schema}
    return {200: {"description": description, "content": content}}
