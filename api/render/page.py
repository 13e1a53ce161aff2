"""The JSON page of rows, described once: its body is built as this type, its schema derived."""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict


class RowsPage(TypedDict):
    """One JSON page of rows: what was asked, as understood, the rows and the next page."""

    package: str
    version: str
    resource: str
    licenses: list[dict[str, Any]]
    filters: list[dict[str, Any]]
    sort: list[str]
    columns: list[str]
    total: Annotated[
        int | None,
        Field(
            description="Rows matching the filters; null with `_count=none`. A lower bound when"
            " `total_is_exact` is false."
        ),
    ]
    total_is_exact: Annotated[
        bool | None,
        Field(
            description="True: `total` is the exact count. False: more than `total` rows match"
            " (the default count stops at a cap; `_count=exact` counts all). Null: not counted."
        ),
    ]
    size: int
    rows: list[dict[str, Any]]
    next: str | None
    next_url: str | None
    facets: NotRequired[dict[str, list[dict[str, Any]]]]
    facets_truncated: NotRequired[list[str]]
    facets_timed_out: Annotated[
        NotRequired[list[str]],
        Field(
            description="Facets left out of `facets`: counting them passed the facet time limit"
            " (`OPENDATA_FACET_TIMEOUT_SECONDS`); the rows and the total are complete."
        ),
    ]


def _untitled(schema: Any) -> Any:
    """The schema without the titles pydantic derives from Python names."""
    if isinstance(schema, dict):
        return {k: _untitled(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_untitled(item) for item in schema]
    return schema


PAGE_SCHEMA: dict[str, Any] = _untitled(TypeAdapter(RowsPage).json_schema())


def page_schema(row_ref: str) -> dict[str, Any]:
    """The JSON Schema of a page whose rows are described at `row_ref`."""
    schema = dict(PAGE_SCHEMA)
    properties = dict(schema["properties"])
    properties["rows"] = {"type": "array", "items": {"$ref": row_ref}}
    schema["properties"] = properties
    return schema
