"""Diffs between two releases of a package: JSON pages of row changes, and CSV of one resource."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from api.db.limiter import run_blocking
from api.deps import LinksDep, SettingsDep
from api.diff.release import ReleaseDiff, ResourceDiff
from api.diff.rows import change_record, csv_header, csv_row
from api.errors import BadQuery, ParamError
from api.http.answers import BAD_QUERY, RELEASE_ANSWERS, answers, bodies
from api.http.caching import not_modified
from api.http.diff_request import (
    CONTROLS,
    CSV_CONTROLS,
    CsvDiffQueryDep,
    DiffQueryDep,
    ResolvedCsvDiffDep,
    ResolvedDiffDep,
    diff_headers,
)
from api.http.openapi_params import VERSION_PATTERN
from api.http.responses import JSONResponse
from api.metadata.urls import API_PREFIX
from api.query.operators import Control
from api.render.rows import MEDIA_TYPES, iter_csv

router = APIRouter(prefix=API_PREFIX, tags=["diff"])

DIFF_ANSWERS = answers(BAD_QUERY, RELEASE_ANSWERS)
VERSION_SCHEMA = {"type": "string", "pattern": VERSION_PATTERN}
SCHEMAS: dict[str, dict[str, Any]] = {
    "from": VERSION_SCHEMA,
    "to": VERSION_SCHEMA,
    "resource": {"type": "string", "minLength": 1},
    "_size": {"type": "integer", "minimum": 1},
    "_next": {"type": "string", "minLength": 1},
}


def _documented(controls: Mapping[str, Control], *, csv: bool) -> dict[str, Any]:
    """The OpenAPI parameters of a query string read by `read_controls`, for `openapi_extra`."""
    required = ("from", "to", "resource") if csv else ("from", "to")
    parameters = [
        {
            "name": control.key,
            "in": "query",
            "required": control.key in required,
            "description": control.description,
            "schema": dict(SCHEMAS[control.key]),
        }
        for control in controls.values()
    ]
    return {"parameters": parameters}


@router.get(
    "/{package}/diff",
    summary="Diff two releases",
    openapi_extra=_documented(CONTROLS, csv=False),
    responses=DIFF_ANSWERS,
)
async def release_diff(
    request: Request,
    package: str,
    query: DiffQueryDep,
    resolved: ResolvedDiffDep,
    settings: SettingsDep,
    links: LinksDep,
) -> Response:
    """Rows added, removed and changed by primary key, schema changes and the bump they need."""
    headers = diff_headers(
        request, resolved, query, links=links, max_age=settings.latest_max_age, variant="json"
    )
    cached = not_modified(request, headers["ETag"], headers)
    if cached is not None:
        return cached
    diff, source = resolved.diff, resolved.source
    start = source.position(diff, query.next, query.resource) if query.next is not None else None
    page = await run_blocking(
        source.engine,
        partial(source.page, diff, size=query.size, start=start, resource=query.resource),
    )
    keys = {r.name: r.pair.key for r in diff.resources}
    token = page.next.token if page.next is not None else None
    next_url = None
    if token is not None:
        pinned = [("from", diff.from_version), ("to", diff.to_version)]
        if query.resource is not None:
            pinned.append(("resource", query.resource))
        pinned += [("_size", str(query.size)), ("_next", token)]
        next_url = links.at(request.url.path, pinned)
        headers["Link"] = f'<{next_url}>; rel="next"'
    body = {
        **diff.as_dict(resource=query.resource),
        "size": query.size,
        "rows": [change_record(name, change, keys[name]) for name, change in page.changes],
        "next": token,
        "next_url": next_url,
        "links": {
            "from": links.release(package, diff.from_version),
            "to": links.release(package, diff.to_version),
        },
    }
    return JSONResponse(body, headers=headers)


def _not_compared(item: ResourceDiff, diff: ReleaseDiff) -> BadQuery:
    pair = item.pair
    if pair.before is None:
        why = f"it is new in {diff.to_version}"
    elif pair.after is None:
        why = f"it is gone from {diff.to_version}"
    else:
        why = pair.reason or "they cannot be matched by key"
    message = f"the rows of resource '{item.name}' cannot be compared: {why}."
    return BadQuery([ParamError("resource", "not-comparable", message)])


@router.get(
    "/{package}/diff.csv",
    summary="Diff one resource of two releases as CSV",
    openapi_extra=_documented(CSV_CONTROLS, csv=True),
    response_class=Response,
    responses=answers(bodies("Every row change as CSV.", ["text/csv"]), DIFF_ANSWERS),
)
async def release_diff_csv(
    request: Request,
    query: CsvDiffQueryDep,
    resolved: ResolvedCsvDiffDep,
    settings: SettingsDep,
    links: LinksDep,
) -> Response:
    """Every row change of one resource: key columns, diff_type, from_ and to_ of each field."""
    diff = resolved.diff
    item = diff.resource(str(query.resource))
    assert item is not None
    if item.counts is None:
        raise _not_compared(item, diff)
    headers = diff_headers(
        request, resolved, query, links=links, max_age=settings.latest_max_age, variant="csv"
    )
    cached = not_modified(request, headers["ETag"], headers)
    if cached is not None:
        return cached
    pair = item.pair
    changes = await run_blocking(
        resolved.source.engine, resolved.source.open_stream, diff, item.name
    )
    rows = (csv_row(change, pair.value_fields) for change in changes)
    body = iter_csv(csv_header(pair.key, pair.value_fields), rows)
    return StreamingResponse(body, media_type=MEDIA_TYPES["csv"], headers=headers)
